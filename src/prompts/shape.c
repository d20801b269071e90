/* shape.c: what a prompt's name, label and chat messages may look like (the same rules as the database's checks). */
#include "prompts/shape.h"

#include <stdlib.h>
#include <string.h>

/* c in [a-z0-9._-] */
static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool prompts_name_valid(const char *name)
{
    size_t len = strlen(name), seg = 0;

    if (len == 0 || len > PROMPTS_NAME_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (name[i] == '/' || name[i] == '\0') {
            if (seg == 0 || (seg == 1 && name[i - 1] == '.') ||
                (seg == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
                return false;
            seg = 0;
        } else if (!name_char(name[i])) {
            return false;
        } else {
            seg++;
        }
    }
    return true;
}

bool prompts_label_valid(const char *label)
{
    size_t len = strlen(label);

    if (len == 0 || len > PROMPTS_LABEL_MAX || label[0] == '.' || label[0] == '_' ||
        label[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char(label[i]))
            return false;
    return true;
}

/* The number of members of object o. */
static int members(const cJSON *o)
{
    return cJSON_GetArraySize(o);
}

const char *prompts_chat_error(const cJSON *messages, int *at)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool", NULL};
    const cJSON *m, *role, *content, *type, *name;
    int i = 0;

    *at = -1;
    if (!cJSON_IsArray(messages))
        return "must be an array of messages";
    cJSON_ArrayForEach(m, messages) {
        *at = i++;
        if (!cJSON_IsObject(m))
            return "is not an object";
        type = cJSON_GetObjectItemCaseSensitive(m, "type");
        if (type != NULL) {
            name = cJSON_GetObjectItemCaseSensitive(m, "name");
            if (!cJSON_IsString(type) || strcmp(type->valuestring, "placeholder") != 0 ||
                !cJSON_IsString(name) || members(m) != 2)
                return "a placeholder is {type: \"placeholder\", name: string} and nothing else";
            continue;
        }
        role = cJSON_GetObjectItemCaseSensitive(m, "role");
        content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role))
            return "has no role";
        bool known = false;
        for (const char *const *k = roles; *k; k++)
            known = known || strcmp(*k, role->valuestring) == 0;
        if (!known)
            return "has a role other than system, user, assistant or tool";
        if (!cJSON_IsString(content))
            return "has no content (a string)";
        if (members(m) != 2)
            return "a message is {role, content} and nothing else";
    }
    *at = -1;
    return NULL;
}

bool prompts_version_valid(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 9 && strspn(s, "0123456789") == n && atol(s) >= 1;
}
