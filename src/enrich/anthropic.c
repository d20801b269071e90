/* anthropic.c: the Anthropic messages wire format (anthropic-version 2023-06-01). */
#include <string.h>

#include "core/json.h"
#include "enrich/wire.h"

/* The user message's content: the prompt, or with images an array of
 * blocks, an image block per image (base64 source, by reference) and the
 * text block last, as Anthropic recommends. */
static cJSON *anthropic_content(const provider_call_t *c)
{
    cJSON *blocks, *b, *src;

    if (c->nimages == 0)
        return cJSON_CreateString(c->user);
    blocks = cJSON_CreateArray();
    for (int i = 0; i < c->nimages; i++) {
        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "image");
        src = cJSON_AddObjectToObject(b, "source");
        cJSON_AddStringToObject(src, "type", "base64");
        cJSON_AddStringToObject(src, "media_type", c->images[i].mime);
        cJSON_AddItemToObject(src, "data", cJSON_CreateStringReference(c->images[i].base64));
        cJSON_AddItemToArray(blocks, b);
    }
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", c->user);
    cJSON_AddItemToArray(blocks, b);
    return blocks;
}

/* {model, system, messages:[user], max_tokens, temperature:0, stream?} */
static char *anthropic_body(arena_t *a, const provider_call_t *c)
{
    cJSON *o = json_own(a, cJSON_CreateObject()), *msgs, *m;

    cJSON_AddStringToObject(o, "model", c->link->model);
    cJSON_AddStringToObject(o, "system", c->system);
    msgs = cJSON_AddArrayToObject(o, "messages");
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddItemToObject(m, "content", anthropic_content(c));
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddNumberToObject(o, "max_tokens", (double)c->max_tokens);
    cJSON_AddNumberToObject(o, "temperature", 0);
    if (c->on_delta)
        cJSON_AddTrueToObject(o, "stream");
    return wire_print(a, o, c);
}

static void anthropic_stop(wire_state_t *st, const cJSON *stop)
{
    if (cJSON_IsString(stop) && strcmp(stop->valuestring, "max_tokens") == 0)
        st->truncated = true;
}

static void anthropic_answer(wire_state_t *st, const cJSON *root)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content"), *b;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    bool any = false;

    if (!cJSON_IsArray(content)) {
        st->garbage = true;
        return;
    }
    cJSON_ArrayForEach(b, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");

        if (cJSON_IsString(t)) {
            strbuf_puts(&st->text, t->valuestring);
            any = true;
        }
    }
    if (!any && cJSON_GetArraySize(content) > 0)
        st->garbage = true;
    anthropic_stop(st, cJSON_GetObjectItemCaseSensitive(root, "stop_reason"));
    wire_usage(st, cJSON_GetObjectItemCaseSensitive(root, "usage"), "input_tokens",
               "output_tokens");
    if (cJSON_IsString(model))
        st->model = arena_strdup(st->arena, model->valuestring);
    st->finished = true;
}

/* message_start, content_block_delta, message_delta, message_stop, error */
static void anthropic_event(wire_state_t *st, const char *event, const char *data)
{
    cJSON *root = cJSON_Parse(data);
    const cJSON *type, *x;

    if (root == NULL) {
        st->garbage = true;
        return;
    }
    type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsString(type)) {
        if (event == NULL)
            st->garbage = true;
        cJSON_Delete(root);
        return;
    }
    if (strcmp(type->valuestring, "message_start") == 0) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");

        /* the first one only: a copy per repeated event would grow
         * the arena past the reader's cap */
        x = cJSON_GetObjectItemCaseSensitive(msg, "model");
        if (cJSON_IsString(x) && st->model == NULL)
            st->model = arena_strdup(st->arena, x->valuestring);
        wire_usage(st, cJSON_GetObjectItemCaseSensitive(msg, "usage"), "input_tokens",
                   "output_tokens");
    } else if (strcmp(type->valuestring, "content_block_delta") == 0) {
        x = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "delta"), "text");
        if (cJSON_IsString(x))
            wire_text(st, x->valuestring);
    } else if (strcmp(type->valuestring, "message_delta") == 0) {
        anthropic_stop(st, cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "delta"), "stop_reason"));
        wire_usage(st, cJSON_GetObjectItemCaseSensitive(root, "usage"), "input_tokens",
                   "output_tokens");
    } else if (strcmp(type->valuestring, "message_stop") == 0) {
        st->finished = true;
    } else if (strcmp(type->valuestring, "error") == 0) {
        st->error = "the stream carried an error event";
    }
    cJSON_Delete(root);
}

const wire_format_t wire_anthropic = {
    "/v1/messages", "x-api-key: ", "anthropic-version: 2023-06-01",
    anthropic_body, anthropic_answer, anthropic_event,
};
