/* openai.c: the OpenAI chat-completions wire format (also vLLM, llama.cpp, Ollama by base URL). */
#include <string.h>

#include "core/json.h"
#include "enrich/wire.h"

/* The user message's content: the prompt, or with images an array of
 * parts, the text first, then an image_url part per image (its data URL
 * by reference: megabytes are not copied into the tree). */
static cJSON *openai_content(const provider_call_t *c)
{
    cJSON *parts, *p, *u;

    if (c->nimages == 0)
        return cJSON_CreateString(c->user);
    parts = cJSON_CreateArray();
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "text");
    cJSON_AddStringToObject(p, "text", c->user);
    cJSON_AddItemToArray(parts, p);
    for (int i = 0; i < c->nimages; i++) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", "image_url");
        u = cJSON_AddObjectToObject(p, "image_url");
        cJSON_AddItemToObject(u, "url", cJSON_CreateStringReference(c->images[i].data_url));
        cJSON_AddItemToArray(parts, p);
    }
    return parts;
}

/* {model, messages:[system,user], max_tokens, temperature:0, stream?} */
static char *openai_body(arena_t *a, const provider_call_t *c)
{
    cJSON *o = json_own(a, cJSON_CreateObject()), *msgs, *m;

    cJSON_AddStringToObject(o, "model", c->link->model);
    msgs = cJSON_AddArrayToObject(o, "messages");
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", c->system);
    cJSON_AddItemToArray(msgs, m);
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddItemToObject(m, "content", openai_content(c));
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddNumberToObject(o, "max_tokens", (double)c->max_tokens);
    cJSON_AddNumberToObject(o, "temperature", 0);
    if (c->on_delta) {
        cJSON_AddTrueToObject(o, "stream");
        cJSON_AddTrueToObject(cJSON_AddObjectToObject(o, "stream_options"),
                              "include_usage");
    }
    return wire_print(a, o, c);
}

static void openai_usage(wire_state_t *st, const cJSON *root)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");

    wire_usage(st, cJSON_GetObjectItemCaseSensitive(root, "usage"),
               "prompt_tokens", "completion_tokens");
    if (cJSON_IsString(model) && st->model == NULL)
        st->model = arena_strdup(st->arena, model->valuestring);
}

static void openai_answer(wire_state_t *st, const cJSON *root)
{
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");

    if (!cJSON_IsString(content)) {
        st->garbage = true;
        return;
    }
    strbuf_puts(&st->text, content->valuestring);
    if (cJSON_IsString(fin) && strcmp(fin->valuestring, "length") == 0)
        st->truncated = true;
    st->finished = true;
    openai_usage(st, root);
}

/* data: {"choices":[{"delta":{"content":"..."},"finish_reason":...}]} ...
 * data: [DONE] */
static void openai_event(wire_state_t *st, const char *event, const char *data)
{
    cJSON *root;
    const cJSON *ch, *delta, *content, *fin;

    (void)event;
    if (strcmp(data, "[DONE]") == 0) {
        st->finished = true;
        return;
    }
    root = cJSON_Parse(data);
    if (root == NULL) {
        st->garbage = true;
        return;
    }
    ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    delta = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    content = cJSON_GetObjectItemCaseSensitive(delta, "content");
    fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
    if (cJSON_IsString(content))
        wire_text(st, content->valuestring);
    if (cJSON_IsString(fin) && strcmp(fin->valuestring, "length") == 0)
        st->truncated = true;
    if (cJSON_GetObjectItemCaseSensitive(root, "error"))
        st->error = "the stream carried an error";
    openai_usage(st, root);
    cJSON_Delete(root);
}

const wire_format_t wire_openai = {
    "/chat/completions", "Authorization: Bearer ", NULL,
    openai_body, openai_answer, openai_event,
};
