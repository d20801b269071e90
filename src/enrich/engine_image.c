/* engine_image.c: the local engine's writer for image-generation prompts: the description kept, then labelled slots for the image aspects it lacks. */
#include <string.h>

#include "enrich/engine_int.h"
#include "enrich/lexicon.h"

/* The aspects the image guides teach, in the order a description names
 * them (subject first, format last).  A slot is added when the prompt's
 * scan (the scorer's, score_kind_scan) found no word of its class; which
 * modes add it is a mask of engine modes.  The label names the aspect and
 * the placeholder asks for it: nothing about the image is invented. */
#define M(mode) (1u << (mode))
#define M_ALL (M(ENGINE_IMPROVE) | M(ENGINE_STRUCTURE) | M(ENGINE_CLARIFY) | \
               M(ENGINE_EXPAND) | M(ENGINE_CONCISE))
#define M_FULL (M(ENGINE_IMPROVE) | M(ENGINE_CLARIFY) | M(ENGINE_EXPAND))
#define M_RICH (M(ENGINE_IMPROVE) | M(ENGINE_EXPAND))

static const struct {
    int cls;            /* enum lexicon_score_class; -1: the subject */
    unsigned modes;
    const char *label;
    const char *ph;
} image_slots[] = {
    {-1, M_ALL & ~M(ENGINE_CONCISE), "Subject",
     PH("who or what is in the image, doing what, where")},
    {LSC_IMG_MEDIUM, M_ALL, "Style",
     PH("the medium, e.g. photograph, watercolour or 3D render")},
    {LSC_IMG_COMPOSITION, M_ALL, "Composition",
     PH("the framing, e.g. close-up, centred, or a wide shot")},
    {LSC_IMG_LIGHTING, M_ALL, "Lighting",
     PH("e.g. soft morning light from the left")},
    {LSC_IMG_COLOUR, M_RICH, "Colours",
     PH("the palette, e.g. muted teal and cream")},
    {LSC_IMG_MOOD, M_RICH, "Mood", PH("e.g. calm and nostalgic")},
    {LSC_IMG_LENS, M(ENGINE_EXPAND), "Camera",
     PH("the lens or camera, e.g. 35mm, shallow depth of field")},
    {LSC_IMG_ASPECT, M_ALL, "Aspect ratio", PH("e.g. 16:9, 2:3 or square")},
};
#define IMAGE_NSLOTS (sizeof(image_slots) / sizeof(image_slots[0]))

/* The description in its own order without pleasantries; rewritten
 * (hedges and filler words out) only when rewrite is true and it has
 * hedges or filler words: an image description is often a lower-case
 * list of phrases, and stays one. */
static void image_body(eng_t *e, strbuf_t *sb, bool rewrite)
{
    int prev = -1;

    rewrite = rewrite && (e->all.cue[CUE_HEDGE] || e->all.cue[CUE_FILLER]);
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        if (u->role == R_DROP)
            continue;
        if (prev >= 0)
            engine_put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        engine_put_clean(e, sb, u, rewrite);
    }
    if (!sb->len) /* only pleasantries: keep the prompt as it was */
        strbuf_append(sb, e->s + e->u[0].start,
                      e->u[e->nu - 1].end - e->u[0].start);
}

/* Is slot i missing from the prompt? */
static bool image_missing(const eng_t *e, size_t i)
{
    int cls = image_slots[i].cls;

    return cls < 0 ? e->k.subject < 3 : e->k.hits[cls] == 0;
}

/* concise: one compact line ("Style: [[Add: ...]]; lighting: ..."). */
static void image_concise_line(eng_t *e, strbuf_t *sb)
{
    bool any = false;

    for (size_t i = 0; i < IMAGE_NSLOTS; i++) {
        char c;
        if (!(image_slots[i].modes & M(ENGINE_CONCISE)) || !image_missing(e, i))
            continue;
        strbuf_puts(sb, any ? "; " : "\n");
        c = image_slots[i].label[0];
        strbuf_putc(sb, any ? (char)lower((unsigned char)c) : c);
        strbuf_printf(sb, "%s: ", image_slots[i].label + 1);
        engine_placeholder(e, sb, &any, "", image_slots[i].ph, false);
        strbuf_puts(sb, image_slots[i].ph);
        any = true;
    }
    if (any)
        strbuf_putc(sb, '.');
}

/* clarify: one question about the first empty praise ("beautiful", "best
 * quality") outside protected spans, which describes nothing to draw. */
static void image_clarify_praise(eng_t *e, strbuf_t *sb, bool *first)
{
    const char *const *praise = lexicon_score[LSC_IMG_EMPTY];

    if (!e->k.hits[LSC_IMG_EMPTY])
        return;
    for (size_t i = 0, w; i < e->len; i += w ? w : 1) {
        int sp = span_at(e, i);
        if (sp < e->nspans && e->spans[sp].start <= i) {
            i = e->spans[sp].end;
            w = 0;
            continue;
        }
        if (!(w = lex_word_len(e->s, e->len, i)))
            continue;
        for (const char *const *p = praise; *p; p++) {
            size_t m = lex_phrase_len(e->s + i, e->len - i, *p);
            char *q;
            if (!m)
                continue;
            q = arena_printf(e->a, "[[Clarify: what should the image show "
                             "instead of \"%.*s\"?]]", (int)m, e->s + i);
            engine_emit_line(sb, first, "", q);
            engine_suggest(e, arena_strndup(e->a, q + 2, strlen(q) - 4));
            return;
        }
    }
}

/* Every mode of an image prompt: the description first (structure keeps
 * its wording), then one "Label: [[Add: ...]]" line per missing aspect;
 * clarify also asks about its vague words; expand asks what the image is
 * for and what it must leave out.  No task, steps or output-format
 * sections: those are written for text answers. */
void engine_write_image(eng_t *e, strbuf_t *sb, engine_mode_t mode)
{
    bool first = false;

    image_body(e, sb, mode != ENGINE_STRUCTURE);
    if (mode == ENGINE_CONCISE) {
        image_concise_line(e, sb);
        return;
    }
    strbuf_puts(sb, "\n");
    for (size_t i = 0; i < IMAGE_NSLOTS; i++) {
        char *label;
        if (!(image_slots[i].modes & M(mode)) || !image_missing(e, i))
            continue;
        label = arena_printf(e->a, "%s: ", image_slots[i].label);
        engine_placeholder(e, sb, &first, label, image_slots[i].ph, true);
    }
    if (mode == ENGINE_EXPAND) {
        engine_placeholder(e, sb, &first, "Purpose: ",
                           PH("what the image is for, e.g. a poster or a "
                              "blog header"), true);
        engine_placeholder(e, sb, &first, "Leave out: ",
                           PH("what the image must not show, e.g. text or "
                              "watermarks"), true);
    }
    if (mode == ENGINE_CLARIFY) {
        engine_clarify_vague(e, sb, &first, "", -1, true);
        image_clarify_praise(e, sb, &first);
    }
    if (sb->len && sb->ptr[sb->len - 1] == '\n') /* nothing was missing */
        sb->ptr[--sb->len] = '\0';
}
