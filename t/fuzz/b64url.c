/* b64url.c (fuzz): strict base64url decoding of any bytes, and encode/decode round trips. */
#include "crypto/b64url.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the documented sizes, so ASan catches any byte beyond them. */
    unsigned char *dec = malloc(size * 3 / 4 + 1);
    char *enc = malloc(B64URL_ENCODED_SIZE(size));
    unsigned char *back = malloc(size + 1);
    long n;
    size_t elen;

    FUZZ_ASSERT(dec && enc && back);
    /* The input as text: strict decoding has exactly one encoding per byte
     * string, so whatever decodes re-encodes to the same text. */
    n = b64url_decode((const char *)data, size, dec);
    if (n >= 0) {
        char *re = malloc(B64URL_ENCODED_SIZE((size_t)n));

        FUZZ_ASSERT(re != NULL && (size_t)n <= size * 3 / 4);
        FUZZ_ASSERT(b64url_encode(dec, (size_t)n, re) == size);
        FUZZ_ASSERT(memcmp(re, data, size) == 0);
        free(re);
    }
    /* The input as bytes: encoding then decoding gives them back. */
    elen = b64url_encode(data, size, enc);
    FUZZ_ASSERT(elen + 1 <= B64URL_ENCODED_SIZE(size) && enc[elen] == '\0');
    n = b64url_decode(enc, elen, back);
    FUZZ_ASSERT(n >= 0 && (size_t)n == size && memcmp(back, data, size) == 0);
    free(back);
    free(enc);
    free(dec);
    return 0;
}
