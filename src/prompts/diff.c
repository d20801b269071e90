/* diff.c: unified line diffs of two texts with libgit2's git_patch_from_buffers. */
#include <string.h>

#include <git2.h>

#include "core/str.h"
#include "prompts/diff.h"

/* libgit2's global state, set up at the first diff and kept for the
 * process (git_libgit2_init counts; one call is enough). */
static bool diff_ready(void)
{
    static bool ready;

    if (!ready)
        ready = git_libgit2_init() > 0;
    return ready;
}

static void diff_line(strbuf_t *sb, prompts_diff_t *out, const git_diff_line *line)
{
    switch (line->origin) {
    case GIT_DIFF_LINE_ADDITION:
        out->additions++;
        break;
    case GIT_DIFF_LINE_DELETION:
        out->deletions++;
        break;
    case GIT_DIFF_LINE_CONTEXT:
        break;
    default:   /* the "no newline at end of file" markers */
        strbuf_puts(sb, "\\ No newline at end of file\n");
        return;
    }
    strbuf_putc(sb, line->origin);
    strbuf_append(sb, line->content, line->content_len);
    if (line->content_len == 0 || line->content[line->content_len - 1] != '\n')
        strbuf_putc(sb, '\n');
}

bool prompts_diff(arena_t *a, const char *old, const char *new, prompts_diff_t *out)
{
    git_diff_options opts;
    git_patch *patch = NULL;
    const git_diff_hunk *hunk;
    const git_diff_line *line;
    size_t lines;
    strbuf_t sb;
    bool ok = false;

    if (!diff_ready() || git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION) != 0)
        return false;
    opts.flags = GIT_DIFF_FORCE_TEXT;
    opts.context_lines = 3;
    if (
        git_patch_from_buffers(&patch, old, strlen(old), "a", new, strlen(new), "b", &opts) != 0)
        goto out;
    *out = (prompts_diff_t){0};
    strbuf_init(&sb, a, 256);
    for (size_t h = 0; h < git_patch_num_hunks(patch); h++) {
        if (git_patch_get_hunk(&hunk, &lines, patch, h) != 0)
            goto out;
        strbuf_append(&sb, hunk->header, hunk->header_len);
        for (size_t l = 0; l < lines; l++) {
            if (git_patch_get_line_in_hunk(&line, patch, h, l) != 0)
                goto out;
            diff_line(&sb, out, line);
        }
    }
    out->text = sb.ptr;
    ok = true;
out:
    git_patch_free(patch);
    return ok;
}
