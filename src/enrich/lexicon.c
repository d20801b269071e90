/* lexicon.c: every word list of the local engine and the scorer (cue phrases, hedges, fillers, labels, ...), in one home. */
#include "enrich/lexicon.h"

/* Cue phrases, lower-case ASCII, one table per class, NULL-terminated.
 * A phrase matches at a word start, case-insensitively, when it ends at a
 * word boundary (a trailing '*' matches any word ending: "summari*"). */
static const char *const cue_task[] = {
    "write", "rewrite", "summarise", "summarize", "explain", "create",
    "generate", "list", "extract", "translate", "fix", "refactor",
    "implement", "analyse", "analyze", "compare", "describe", "draft",
    "classify", "review", "make", "give", "tell", "find", "answer",
    "calculate", "compute", "design", "build", "convert", "identify",
    "outline", "propose", "suggest", "plan", "debug", "optimise",
    "optimize", "compose", "edit", "proofread", "evaluate", "assess",
    "produce", "prepare", "develop", "add", "remove", "update", "test",
    "check", "categorise", "categorize", "tag", "label", "rank", "sort",
    "recommend", "estimate", "predict", "pull", "parse", "map", "detect",
    "brainstorm", "condense", "shorten", "expand", "improve", "port",
    "document", "name", "solve", "show", "help", "define", "investigate",
    "research", "critique", "score", "rate", "match", "validate", "verify",
    "simplify", "paraphrase", "structure", "organise", "organize", "create",
    "turn", "transform", "reply", "respond to", "decide", "choose", "select",
    "determine", "interpret", "diagnose", "migrate", "deploy", "configure",
    "set up", "install", "count", "group", "cluster", "split", "merge",
    "highlight", "note", "annotate", "teach", "quiz", "prioritise",
    "prioritize", "forecast", "model", "draw", "sketch", "recap", "report",
    "get", "fetch", "do", "look", "tldr", "summarise*", "summarize*", NULL};
static const char *const cue_formatverb[] = {
    "return", "output", "respond with", "respond in", "answer in",
    "answer with", "format", "present", "reply in", "reply with",
    "use the format", "structure the", NULL};
static const char *const cue_vague[] = {
    "something", "stuff", "things", "thing", "good", "nice", "better",
    "interesting", "etc", "whatever", "somehow", "some kind", "kind of",
    "sort of", "a bit", "various", "and so on", "or something", "maybe",
    "great", "cool", "awesome", "proper", "appropriate", "relevant",
    "a few", "a lot", "lots of", "anything", "everything", NULL};
static const char *const cue_filler[] = {
    "please", "kindly", "basically", "actually", "really", "very",
    "literally", "totally", "just", "simply", "quite", "honestly",
    "if possible", "if you can", "if you don't mind", "thanks", "thank you",
    "pls", "plz", NULL};
static const char *const cue_hedge[] = {
    "can you", "could you", "would you", "will you", "i was wondering",
    "i wonder", "i want you to", "i need you to", "i would like you to",
    "i'd like you to", "do you think", "is it possible", "perhaps",
    "maybe you could", "try to", NULL};
static const char *const cue_audience[] = {
    "audience", "reader", "readers", "for beginners", "for experts",
    "beginner", "beginners", "non-technical", "technical readers",
    "customers", "customer", "students", "executives", "stakeholders",
    "managers", "developers", "engineers", "children", "kids", "parents",
    "clients", "users", "subscribers", "investors", "recruiters",
    "for a general", "aimed at", "targeted at", "intended for", "who are",
    "who is", "who know", "who have", "level", "layperson", "laypeople",
    "newcomers", "team", "buyers", "patients", "teachers", "fans", "board",
    "cfo", "ceo", "cto", "manager", "boss", "colleague", "colleagues",
    "team lead", "leadership", "executive", "client", "student", "novice",
    "expert", "experts", "non-experts", "general public", "members",
    "employees", "staff", "visitors", "viewers", "listeners", "voters",
    "hiring manager", "partners", "donors", "community", NULL};
static const char *const cue_role[] = {
    "you are", "act as", "acting as", "as an expert", "as a senior",
    "as an experienced", "you're", "take the role", "role:", "persona",
    "pretend", "imagine you", NULL};
static const char *const cue_background[] = {
    "context", "background", "because", "the goal", "goal:", "purpose",
    "so that", "in order to", "we are", "we're", "i am", "i'm", "our ",
    "my ", "the reason", "currently", "situation", "we have", "i have",
    "this is for", "it will be used", "will be used", "used in", "used for",
    "project", "company", "startup", "business", "for our", "for my",
    "the aim", "objective", NULL};
static const char *const cue_format[] = {
    "json", "table", "bullet", "bullets", "bullet points", "bulleted",
    "numbered list", "markdown", "csv", "yaml", "xml", "html",
    "format", "heading", "headings", "headline", "subject line", "paragraph",
    "paragraphs", "code block", "one line", "one-line", "list of", "as a list",
    "in a list", "template", "columns", "column", "key-value", "schema",
    "fields", "plain text", "sections", "section", "outline", "tweet",
    "email", "diff", "patch", "one sentence", "one word", "single word",
    "yes or no", "true or false", "label", "score from", "score of", NULL};
static const char *const cue_lengthunit[] = {
    "words", "word", "sentences", "sentence", "bullets", "bullet",
    "bullet points", "points", "paragraphs", "paragraph", "characters",
    "chars", "lines", "line", "items", "pages", "page", "minutes", "tokens",
    "tweets", "slides", "questions", "options", "ideas", "examples",
    "headlines", "steps", "names", "taglines", "variants", "versions",
    "reasons", "tips", NULL};
static const char *const cue_lengthword[] = {
    "brief", "briefly", "short", "concise", "concisely", "one paragraph",
    "a paragraph", "one sentence", "a sentence", "under", "at most",
    "no more than", "no longer than", "maximum", "max", "fewer than",
    "less than", "up to", "limit", "exactly", "at least", NULL};
static const char *const cue_constraint[] = {
    "must", "should", "only", "at most", "at least", "no more than",
    "fewer than", "limit", "within", "avoid", "exclude", "include",
    "do not", "don't", "never", "always", "keep", "ensure", "make sure",
    "maximum", "minimum", "required", "requires", "without", "no longer than",
    "stay", "use only", "only use", "without using", "not exceed", "strictly",
    "constraint", "constraints", "rule", "rules", "requirement",
    "requirements", "preserve", "retain", "cite", "handle", "follow",
    "compatible", "comply", "under", NULL};
static const char *const cue_tone[] = {
    "tone", "formal", "informal", "friendly", "professional", "casual",
    "playful", "serious", "neutral", "persuasive", "empathetic", "witty",
    "style", "voice", "plain language", "plain english", "jargon",
    "warm", "upbeat", "authoritative", "conversational", NULL};
static const char *const cue_example[] = {
    "for example", "e.g", "example:", "examples:", "example", "examples",
    "for instance", "such as", "like this", "input:", "output:",
    "sample", "here is an example", NULL};
static const char *const cue_negative[] = {
    "don't", "do not", "never", "dont", "doesn't", "does not", "won't",
    "not ", NULL};
static const char *const cue_material[] = {
    "text", "article", "email", "e-mail", "message", "transcript",
    "document", "following", "below", "passage", "report", "notes", "note",
    "content", "paragraph", "input", "story", "essay", "post", "snippet",
    "function", "code", "query", "data", "dataset", "log", "logs", "review",
    "reviews", "feedback", "comments", "thread", "paper", "chapter",
    "letter", "draft", "description", "table", "list", "script", "file",
    "invoice", "receipt", "contract", "resume", "cv", "survey", "answers",
    "responses", "tickets", "ticket", "conversation", "chat", "minutes",
    "abstract", "this", "these", "attached", "here", NULL};
static const char *const cue_step[] = {
    "step", "steps", "first", "then", "next", "finally", "afterwards",
    "step-by-step", "step by step", NULL};
static const char *const cue_code[] = {
    "code", "function", "bug", "python", "javascript", "typescript",
    "java", "golang", "rust", "c++", "c#", "sql", "bash", "shell", "api",
    "refactor", "compile", "compiler", "error", "exception", "class",
    "method", "script", "implement", "unit test", "unit tests", "regex",
    "endpoint", "database", "query", "algorithm", "library", "framework",
    "debug", "stack trace", "repository", "git", "docker", "kubernetes",
    "html", "css", "react", "node", "program", "variable", "segfault",
    "runtime", NULL};
static const char *const cue_write[] = {
    "write", "draft", "essay", "story", "poem", "blog", "article",
    "letter", "rewrite", "edit", "proofread", "speech", "novel",
    "paragraph", "cover letter", "newsletter", "bio", "chapter", "script",
    NULL};
static const char *const cue_summary[] = {
    "summari*", "summary", "summaries", "tl;dr", "tldr", "key points",
    "main points", "condense", "recap", "gist", "digest", "takeaways",
    "key takeaways", "shorten", NULL};
static const char *const cue_extract[] = {
    "extract", "pull out", "find all", "list all", "parse", "entities",
    "fields", "names and", "dates", "addresses", "phone numbers",
    "emails from", "from the following", "from this", "identify all",
    "every mention", "structured data", "key-value", "classify",
    "categorise", "categorize", "sentiment", "tag each", "label each", NULL};
static const char *const cue_qa[] = {
    "what", "why", "how", "when", "who", "where", "which", "explain",
    "question", "answer", "difference between", "is it", "does", "can i",
    "should i", NULL};
static const char *const cue_marketing[] = {
    "marketing", "slogan", "tagline", "taglines", "campaign", "ad", "ads",
    "advert", "landing page", "seo", "brand", "copy", "copywriting",
    "product description", "launch", "promotion", "promote", "conversion",
    "call to action", "cta", "instagram", "linkedin", "twitter", "tiktok",
    "social media", "newsletter", "sales", "customers", "headline",
    "subject line", "audience", NULL};
static const char *const cue_analysis[] = {
    "analy*", "compare", "comparison", "evaluate", "assess", "trend",
    "trends", "data", "insight", "insights", "pros and cons", "metrics",
    "kpi", "statistics", "correlation", "root cause", "swot", "risk",
    "risks", "forecast", "breakdown", "benchmark", "performance",
    "interpret", NULL};

static const char *const cue_lang[] = {
    "python", "javascript", "typescript", "java", "golang", "go", "rust",
    "c++", "c#", "c", "sql", "postgresql", "postgres", "mysql", "sqlite",
    "bash", "shell", "powershell", "ruby", "php", "kotlin", "swift", "scala",
    "perl", "haskell", "elixir", "r", "matlab", "julia", "lua", "dart",
    "html", "css", "react", "vue", "angular", "node", "node.js", "deno",
    "django", "flask", "rails", "spring", ".net", "dotnet", "excel", "vba",
    "terraform", "ansible", "docker", "kubernetes", "linux", "windows",
    "macos", "ios", "android", "arduino", "verilog", "solidity", NULL};

static const char *const cue_translate[] = {
    "translate*", "translation", "localise", "localize", "localisation",
    "localization", NULL};

static const char *const cue_materialref[] = {
    "the following", "below", "attached", "above", "here is", "here's",
    "here are", "this text", "this article", "this email", "this document",
    "this transcript", "these notes", "this passage", "this message", NULL};

const char *const *const lexicon_cues[CUE_COUNT] = {
    [CUE_TASK] = cue_task, [CUE_FORMATVERB] = cue_formatverb,
    [CUE_VAGUE] = cue_vague, [CUE_FILLER] = cue_filler,
    [CUE_HEDGE] = cue_hedge, [CUE_AUDIENCE] = cue_audience,
    [CUE_ROLE] = cue_role, [CUE_BACKGROUND] = cue_background,
    [CUE_FORMAT] = cue_format, [CUE_LENGTHUNIT] = cue_lengthunit,
    [CUE_LENGTHWORD] = cue_lengthword, [CUE_CONSTRAINT] = cue_constraint,
    [CUE_TONE] = cue_tone, [CUE_EXAMPLE] = cue_example,
    [CUE_NEGATIVE] = cue_negative, [CUE_MATERIAL] = cue_material,
    [CUE_STEP] = cue_step, [CUE_CAT_CODE] = cue_code,
    [CUE_CAT_WRITE] = cue_write, [CUE_CAT_SUMMARY] = cue_summary,
    [CUE_CAT_EXTRACT] = cue_extract, [CUE_CAT_QA] = cue_qa,
    [CUE_CAT_MARKETING] = cue_marketing, [CUE_CAT_ANALYSIS] = cue_analysis,
    [CUE_LANG] = cue_lang, [CUE_CAT_TRANSLATE] = cue_translate,
    [CUE_MATERIALREF] = cue_materialref,
};

/* Words a sentence may open with before its verb ("Could you please ..."). */
const char *const lexicon_opener_skip[] = {
    "please", "kindly", "can", "could", "would", "will", "you", "i", "i'd",
    "want", "need", "like", "to", "we", "just", "now", "also", "then", "so",
    "and", "first", "finally", "next", "ok", "okay", "hi", "hello", "hey",
    "lastly", "additionally", "secondly", "thirdly", NULL};

/* Abbreviations whose '.' ends no sentence ("e.g.", "Dr."). */
const char *const lexicon_abbrev[] = {
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "no", "approx",
    "fig", "cf", "st", "jr", "sr", "inc", "ltd", "co", "eg", "ie", NULL};

/* A wish ("I want a ...") opens a task: the wish verbs and the articles
 * after them. */
const char *const lexicon_wants[] = {"want", "need", "like", NULL};
const char *const lexicon_articles[] = {"a", "an", "some", "the", "two",
                                        "three", NULL};

/* Tags whose block holds instructions, not material: split as text. */
const char *const lexicon_instruction_tags[] = {
    "task", "instructions", "instruction", "rules", "constraints",
    "context", "format", "output_format", "role", "system", "steps",
    "guidelines", "requirements", "goal", "audience", "tone", NULL};

/* Labels that open a section of instructions ("Constraints:"). */
const char *const lexicon_section_labels[] = {
    "constraints", "rules", "requirements", "output", "output format",
    "format", "tone", "audience", "length", "style", "steps", "task",
    "instructions", "context", "examples", "example", "goal", "criteria",
    "return", "deliverable", "deliverables", NULL};

/* Bare pleasantries ("Thanks!", "Hello there,"): a unit of only these goes. */
const char *const lexicon_pleasantries[] = {
    "thanks", "thank you", "thanks in advance", "thank you in advance",
    "thanks a lot", "thank you so much", "many thanks", "hi", "hello",
    "hey", "hi there", "hello there", "cheers", NULL};

/* Opening hedges removed from a task unit ("Could you please write ..."),
 * longest first.  Only lower-case words (and a capitalised first word) are
 * removed, so no name is ever lost. */
const char *const lexicon_hedges[] = {
    "hi, ", "hey, ", "hello, ", "hi ", "hey ", "hello ", "help me ",
    "i would like you to ", "i'd like you to ", "i want you to ",
    "i need you to ", "could you please ", "can you please ",
    "would you please ", "will you please ", "could you ", "can you ",
    "would you ", "will you ", "please ", "kindly ", "maybe ", "perhaps ",
    "just ", NULL};

/* Verbs whose -ing form doubles the last consonant. */
const char *const lexicon_doubling[] = {
    "put", "get", "set", "let", "cut", "run", "stop", "plan", "skip", "drop",
    "ship", "chat", "hit", "sit", "begin", "omit", "admit", "commit",
    "submit", "forget", "swap", "trim", "wrap", "tag", "log", "pad", "dig",
    "rap", "pin", "spin", "win", "ban", "flag", "map", "nag", "jog", NULL};

/* Words after "don't" that are no verb: "don't just copy" stays as is. */
const char *const lexicon_not_verbs[] = {
    "just", "really", "ever", "always", "only", "even", "simply",
    "actually", "necessarily", "overly", "too", "please", "kindly", "so",
    "you", "we", "i", "they", "it", "also", "yet", "any", NULL};

/* Wish openers before an article ("I want " in "I want a tweet"). */
const char *const lexicon_wishes[] = {
    "i would like ", "i'd like ", "i want ", "i need ", NULL};

/* Filler removed by concise mode: phrase and replacement ("" removes). */
const lexicon_filler_t lexicon_fillers[] = {
    {"due to the fact that", "because"}, {"at this point in time", "now"},
    {"for all intents and purposes", ""}, {"it is important to note that", ""},
    {"it should be noted that", ""}, {"needless to say", ""},
    {"in order to", "to"}, {"in the event that", "if"},
    {"a large number of", "many"}, {"has the ability to", "can"},
    {"is able to", "can"}, {"if you don't mind", ""}, {"if possible", ""},
    {"if you can", ""}, {"as you know", ""}, {"of course", ""},
    {"please", ""}, {"kindly", ""}, {"basically", ""}, {"actually", ""},
    {"really", ""}, {"very", ""}, {"literally", ""}, {"totally", ""},
    {"honestly", ""}, {"essentially", ""}, {"pls", ""}, {"plz", ""},
    {NULL, NULL}};
const int lexicon_fillers_end =
    (int)(sizeof(lexicon_fillers) / sizeof(lexicon_fillers[0])) - 1;

/* Marks of material a task refers to ("the following"), the determiners
 * before a material noun ("this article"), and the words of the material
 * cue list that are not nouns. */
const char *const lexicon_material_marks[] = {
    "the following", "below", "attached", "above", NULL};
const char *const lexicon_determiners[] = {
    "this", "these", "that", "those", "the", "my", "our", "attached", NULL};
const char *const lexicon_not_nouns[] = {
    "this", "these", "following", "below", "attached", "here", "list",
    "note", NULL};

/* The scorer's kind and detail cues (score_kind.c), one list per class of
 * enum lexicon_score_class.  An image prompt is judged on what the image
 * guides teach: subject detail, medium/style, composition, lighting,
 * lens/camera, colour, mood and aspect ratio. */
static const char *const img_request[] = {
    "image of", "picture of", "photo of", "an image", "a picture", "a photo",
    "draw", "paint", "illustrate", "logo", "icon", "poster", "concept art",
    "portrait", NULL};
static const char *const img_medium[] = {
    "photo", "photograph", "photography", "illustration", "watercolor",
    "oil painting", "painting", "digital painting", "vector", "flat",
    "minimalist", "render", "3d", "anime", "cartoon", "sketch", "pencil",
    "cinematic", "realistic", "in the style of", "style", "concept art", "cel",
    "documentary", "film photography", "ink", NULL};
static const char *const img_composition[] = {
    "close-up", "wide shot", "medium shot", "full-body", "aerial", "top-down",
    "low angle", "low-angle", "eye-level", "centred", "centered",
    "composition", "background", "shot", "angle", "view", "front view",
    "side view", "wide-angle", "ultra-wide", "in the centre", "empty sky",
    "from a distance", NULL};
static const char *const img_lighting[] = {
    "light", "lighting", "lit", "golden-hour", "sunlight", "daylight",
    "rim light", "glow", "shadow", "overcast", "dusk", "dawn", "sunset",
    "sunrise", "neon", "candlelit", "night", "lamp light", NULL};
static const char *const img_lens[] = {
    "lens", "35mm", "50mm", "85mm", "24mm", "mm", "depth of field", "camera",
    "film grain", "exposure", "shot on", "f/1.8", "iso", NULL};
static const char *const img_colour[] = {
    "colour", "colours", "color", "colors", "palette", "muted", "pastel",
    "monochrome", "black-and-white", "tones", "red", "blue", "green", "yellow",
    "orange", "purple", "pink", "gold", "golden", "silver", "grey", "gray",
    "white", "black", "brown", "cream", "teal", "magenta", "emerald",
    "two-colour", "warm", "cool", NULL};
static const char *const img_mood[] = {
    "mood", "atmosphere", "calm", "moody", "nostalgic", "dramatic", "cozy",
    "cosy", "cheerful", "quiet", "contemplative", "mysterious", "peaceful",
    "playful", "airy", "misty", "sense of", "feeling", NULL};
static const char *const img_aspect[] = {
    "--ar", "16:9", "9:16", "4:3", "3:2", "2:3", "1:1", "4:5", "21:9",
    "square", "vertical", "horizontal", "4k", "8k", "resolution", NULL};
/* Praise that describes no image ("beautiful, best quality"). */
static const char *const img_empty[] = {
    "beautiful", "amazing", "best quality", "stunning", "awesome", "cool",
    "nice", "perfect", "epic", NULL};
/* Verbs that may open an image request ("Create an image of"). */
static const char *const img_verb[] = {
    "draw", "paint", "illustrate", "render", "create", "generate", "make",
    "design", "sketch", NULL};
/* A request for reasoning before the answer. */
static const char *const reasoning[] = {
    "step by step", "think", "thinking", "reason", "reasoning", "work through",
    "before answering", "verify", "justify", "chain of thought", "first quote",
    NULL};
/* An agent's tools, and the explicit actions and stopping rules the
 * agent guides ask for ("if the search finds nothing, ask the user"). */
static const char *const agent_tool[] = {
    "tool", "tools", "call", "search", "browse", "agent", NULL};
static const char *const agent_rule[] = {
    "if the", "when the", "if there", "if you", "if no", "stop", "until",
    "otherwise", "respond", "confirm", "after you", NULL};
/* Function words that carry no detail (English). */
static const char *const stopwords[] = {
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for",
    "with", "by", "from", "as", "is", "are", "was", "were", "be", "been", "it",
    "its", "it's", "this", "that", "these", "those", "i", "me", "my", "you",
    "your", "we", "our", "us", "he", "she", "they", "them", "his", "her",
    "their", "what", "which", "who", "how", "do", "does", "did", "can",
    "could", "would", "will", "should", "about", "into", "than", "so", "if",
    "then", "not", "no", "all", "any", "each", "some", "more", "also", "there",
    "here", "have", "has", "had", "up", "out", "one", "make", "get", "give",
    "tell", "write", "please", NULL};
/* Verbs opening an instruction that are no task verbs ("Use 3 sentences",
 * "Keep it under 100 words"). */
static const char *const instruct[] = {
    "use", "include", "keep", "focus", "start", "begin", "end", "avoid",
    "limit", "mention", "cover", "stick", "refer", "cite", "quote",
    "ensure", "state", "consider", "assume", "imagine", NULL};
/* Pronouns and auxiliaries: with one of them a short text is a clause
 * ("my dog is sick"), without any a bare noun phrase ("an old lighthouse"). */
static const char *const clause[] = {
    "i", "i'm", "me", "you", "your", "we", "us", "is", "are", "was", "were",
    "am", "be", "can", "could", "should", "will", "would", "want", "need",
    "help", "please", "has", "have", "does", "did", NULL};

const char *const *const lexicon_score[LEXICON_SCORE_COUNT] = {
    [LSC_IMG_REQUEST] = img_request, [LSC_IMG_MEDIUM] = img_medium,
    [LSC_IMG_COMPOSITION] = img_composition,
    [LSC_IMG_LIGHTING] = img_lighting, [LSC_IMG_LENS] = img_lens,
    [LSC_IMG_COLOUR] = img_colour, [LSC_IMG_MOOD] = img_mood,
    [LSC_IMG_ASPECT] = img_aspect, [LSC_IMG_EMPTY] = img_empty,
    [LSC_IMG_VERB] = img_verb,
    [LSC_REASONING] = reasoning, [LSC_AGENT_TOOL] = agent_tool,
    [LSC_AGENT_RULE] = agent_rule,
    [LSC_STOPWORD] = stopwords, [LSC_INSTRUCT] = instruct,
    [LSC_CLAUSE] = clause,
};
