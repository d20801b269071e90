/* shape.h: what a prompt's name, label and chat messages may look like (the same rules as the database's checks). */
#ifndef PROMPTD_PROMPTS_SHAPE_H
#define PROMPTD_PROMPTS_SHAPE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#define PROMPTS_NAME_MAX 200      /* bytes */
#define PROMPTS_LABEL_MAX 36      /* bytes */

/* A name: segments of [a-z0-9._-] joined by '/', 1..200 bytes, no "." or
 * ".." segment (promptd.prompt_name_valid). */
bool prompts_name_valid(const char *name);

/* A label: [a-z0-9][a-z0-9._-]{0,35} (promptd.prompt_label_valid). */
bool prompts_label_valid(const char *label);

/* A version number as text: 1..999999999, digits only. */
bool prompts_version_valid(const char *s);

/* NULL when messages is a chat prompt's content: an array of
 * {role: system|user|assistant|tool, content: string} and
 * {type: "placeholder", name: string}, nothing else; else why not (static
 * text naming the first bad element's index in *at). */
const char *prompts_chat_error(const cJSON *messages, int *at);

#endif
