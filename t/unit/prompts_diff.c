/* prompts_diff.c: unit tests for the unified line diff of two texts (src/prompts/diff.c). */
#include <string.h>

#include "prompts/diff.h"
#include "tap.h"

int main(void)
{
    arena_t *a = arena_create(4096);
    prompts_diff_t d;

    ok(prompts_diff(a, "same\n", "same\n", &d), "equal texts: a diff");
    ok(strcmp(d.text, "") == 0 && d.additions == 0 && d.deletions == 0, "... that is empty");
    ok(prompts_diff(a, "a\nb\nc\n", "a\nB\nc\nd\n", &d), "a change and an addition");
    ok(strcmp(d.text, "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n") == 0, "... as diff -u: %s", d.text);
    ok(d.additions == 2 && d.deletions == 1, "... counted");
    ok(prompts_diff(a, "x", "y", &d), "no final newline");
    ok(strcmp(d.text, "@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n"
                      "\\ No newline at end of file\n") == 0, "... marked: %s", d.text);
    ok(prompts_diff(a, "", "new\n", &d) && strcmp(d.text, "@@ -0,0 +1 @@\n+new\n") == 0,
       "from nothing");
    ok(prompts_diff(a, "old\n", "", &d) && d.deletions == 1 && d.additions == 0, "to nothing");
    ok(prompts_diff(a, "caf\xc3\xa9\n\x01\n", "caf\xc3\xa9!\n\x01\n", &d) && d.additions == 1,
       "UTF-8 and control bytes are text");
    arena_destroy(a);
    return done_testing();
}
