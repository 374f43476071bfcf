/* blip2-edge: BLIP-2 image captioning, visual question answering and image-text retrieval on CPUs.
 *
 * The C interface to the Swift library, for embedded Linux applications. Link with
 * -lblip2_edge. Objects are opaque handles; every function that can fail returns a
 * blip2_status and, when `error` is not NULL, sets *error to a one-line message the caller
 * frees with blip2_free_string (NULL on success). Strings are UTF-8.
 *
 * Threads: a blip2_model may be shared by any number of threads; a blip2_session is used
 * by one thread at a time (make one per thread). blip2_cancel may be called from any
 * thread to stop a running caption or answer, which then returns BLIP2_CANCELLED.
 */
#ifndef BLIP2_EDGE_H
#define BLIP2_EDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blip2_model blip2_model;
typedef struct blip2_session blip2_session;

typedef enum {
    BLIP2_OK = 0,
    BLIP2_INVALID_ARGUMENT = 1, /* a NULL handle, bad image size, empty question, bad parameter */
    BLIP2_MODEL_ERROR = 2,      /* the model file is missing, truncated or not a BLIP-2 file */
    BLIP2_RUNTIME_ERROR = 3,    /* out of memory, threads could not start, ... */
    BLIP2_CANCELLED = 4
} blip2_status;

/* Generation settings. Fill with blip2_caption_defaults or blip2_ask_defaults (LAVIS's
 * settings), then change what you need. num_beams 1 with sample 0 is greedy decoding. */
typedef struct {
    int max_new_tokens;       /* 1 .. 1024 */
    int min_new_tokens;       /* 0 .. max_new_tokens */
    int num_beams;            /* 1 .. 16 */
    float length_penalty;     /* beam score = log-prob / length^length_penalty */
    float repetition_penalty; /* 1 = off */
    int no_repeat_ngram_size; /* 0 = off */
    int sample;               /* 1: sample with the settings below (num_beams must be 1) */
    float temperature;
    int top_k;                /* 0 = all tokens */
    float top_p;              /* 1 = all tokens */
    uint64_t seed;
} blip2_params;

/* OPT's (LAVIS's blip2-opt settings). A NULL params argument below takes the defaults of the
 * loaded model's family instead: for FlanT5, captions with at least 7 new tokens and answers
 * with length penalty -1 (LAVIS's FlanT5 settings). */
void blip2_caption_defaults(blip2_params *params); /* 5 beams, 8 to 30 new tokens */
void blip2_ask_defaults(blip2_params *params);     /* 5 beams, at most 10 tokens, length penalty 0 */

blip2_status blip2_load(const char *path, blip2_model **model, char **error);
void blip2_free(blip2_model *model);

/* threads <= 0: one per CPU. */
blip2_status blip2_session_new(blip2_model *model, int threads, blip2_session **session, char **error);
void blip2_session_free(blip2_session *session);
void blip2_cancel(blip2_session *session);

/* rgb: width * height * 3 bytes, rows top to bottom, pixels R, G, B. params may be NULL for
 * the defaults. On success *text is the caption or answer, freed with blip2_free_string. */
blip2_status blip2_caption(blip2_session *session, const uint8_t *rgb, int width, int height,
                           const blip2_params *params, char **text, char **error);
blip2_status blip2_ask(blip2_session *session, const uint8_t *rgb, int width, int height,
                       const char *question, const blip2_params *params, char **text, char **error);

/* Encode once, ask many times: the vision tower, the Q-Former and the projection run in
 * blip2_encode_image; captions and answers from the encoded image skip them. An encoded image
 * is read-only: any session of the same model may use it, from any thread, at the same time,
 * until blip2_image_free. */
typedef struct blip2_image blip2_image;

blip2_status blip2_encode_image(blip2_session *session, const uint8_t *rgb, int width, int height,
                                blip2_image **image, char **error);
void blip2_image_free(blip2_image *image);
blip2_status blip2_caption_image(blip2_session *session, const blip2_image *image, const blip2_params *params,
                                 char **text, char **error);
blip2_status blip2_ask_image(blip2_session *session, const blip2_image *image, const char *question,
                             const blip2_params *params, char **text, char **error);

/* Streaming. For greedy and sampled decoding the callback runs on the calling thread after
 * every new token with the text that token completed (valid only during the call; often ""
 * while a character spans tokens, and for the end token) and the token id; returning non-zero
 * stops generation, which then returns BLIP2_OK with the text so far. For beam search (the
 * text is known only at the end) it runs once, with the whole text and token id -1.
 * question NULL: a caption. The pieces joined are *text but for its trailing whitespace. */
typedef int (*blip2_token_callback)(const char *piece, int token_id, void *user_data);

blip2_status blip2_generate_stream(blip2_session *session, const blip2_image *image, const char *question,
                                   const blip2_params *params, blip2_token_callback callback, void *user_data,
                                   char **text, char **error);

/* "MAJOR.MINOR.PATCH"; a static string. */
const char *blip2_version(void);
/* The instruction-set variant of the kernels in this process ("avx512_vnni", "avx2",
 * "neon_i8mm", "neondot", "neon" or "ref"); a static string. */
const char *blip2_kernel_variant(void);
/* on != 0: release the vision tower's pages after each image is encoded and keep the KV cache
 * in F16 (bounded resident memory; the next image reads the vision weights again). */
void blip2_session_set_low_ram(blip2_session *session, int on);

/* Reads a JPEG, PNG, PPM or PGM file (found by content) into a malloc'd RGB buffer (free with
 * blip2_free_image). */
blip2_status blip2_read_image(const char *path, uint8_t **rgb, int *width, int *height, char **error);
/* The same, turned upright as the file's EXIF Orientation says (as transformers' load_image;
 * the model's processor, and blip2_read_image, use the stored pixels). */
blip2_status blip2_read_image_upright(const char *path, uint8_t **rgb, int *width, int *height, char **error);
void blip2_free_image(uint8_t *rgb);

void blip2_free_string(char *s);

/* Image-text retrieval (a file converted from blip2-itm-vit-g). Same conventions as above:
 * a blip2_retrieval model is shared between threads, a session is used by one thread at a
 * time. Encode an image once, then score it against any number of texts; an encoded image
 * may be used with any session of the same model, from any thread, until freed.
 * Opening a captioning file here (or a retrieval file with blip2_load) is BLIP2_MODEL_ERROR
 * with a message saying what the file is for. */
typedef struct blip2_retrieval blip2_retrieval;
typedef struct blip2_retrieval_session blip2_retrieval_session;
typedef struct blip2_retrieval_image blip2_retrieval_image;

blip2_status blip2_retrieval_load(const char *path, blip2_retrieval **model, char **error);
void blip2_retrieval_free(blip2_retrieval *model);
/* The width of every feature vector (image_text_hidden_size: 256 for blip2-itm-vit-g) and the
 * number of query vectors of an image (32). 0 for a NULL model. */
int blip2_retrieval_feature_size(const blip2_retrieval *model);
int blip2_retrieval_query_count(const blip2_retrieval *model);

blip2_status blip2_retrieval_session_new(blip2_retrieval *model, int threads, blip2_retrieval_session **session,
                                         char **error);
void blip2_retrieval_session_free(blip2_retrieval_session *session);

/* Runs the vision tower and the queries (about a second or more at full size). */
blip2_status blip2_retrieval_encode_image(blip2_retrieval_session *session, const uint8_t *rgb, int width, int height,
                                          blip2_retrieval_image **image, char **error);
void blip2_retrieval_image_free(blip2_retrieval_image *image);
/* Copies the image's features, query_count x feature_size floats, each row of unit length.
 * BLIP2_INVALID_ARGUMENT when capacity (in floats) is smaller. */
blip2_status blip2_retrieval_image_features(const blip2_retrieval_image *image, float *features, size_t capacity,
                                            char **error);
/* A text's features: feature_size floats of unit length. An empty text, or one longer than the
 * model reads (512 tokens for blip2-itm-vit-g), is BLIP2_INVALID_ARGUMENT. */
blip2_status blip2_retrieval_text_features(blip2_retrieval_session *session, const char *text, float *features,
                                           size_t capacity, char **error);
/* Both scores of a pair: the ITM probability that the text fits the image (0..1) and the ITC
 * similarity (the best cosine over the image's queries, -1..1). Either output may be NULL. */
blip2_status blip2_retrieval_match(blip2_retrieval_session *session, const blip2_retrieval_image *image,
                                   const char *text, float *match_probability, float *similarity, char **error);

#ifdef __cplusplus
}
#endif

#endif
