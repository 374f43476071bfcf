/* Scores texts against an image with a retrieval model: match MODEL IMAGE TEXT...
 * Prints "itm P  itc S  TEXT" per text, as `blip2-edge match` does. The image is encoded once. */
#include <stdio.h>
#include <stdlib.h>
#include "blip2_edge.h"

static int fail(const char *what, char *error) {
    fprintf(stderr, "match: %s: %s\n", what, error ? error : "unknown error");
    blip2_free_string(error);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL IMAGE TEXT...\n", argv[0]);
        return 2;
    }
    char *error = NULL;
    blip2_retrieval *model = NULL;
    if (blip2_retrieval_load(argv[1], &model, &error) != BLIP2_OK) return fail("cannot load the model", error);
    blip2_retrieval_session *session = NULL;
    uint8_t *rgb = NULL;
    int w = 0, h = 0, status = 0;
    blip2_retrieval_image *image = NULL;
    if (blip2_retrieval_session_new(model, 0, &session, &error) != BLIP2_OK) {
        status = fail("session", error);
    } else if (blip2_read_image(argv[2], &rgb, &w, &h, &error) != BLIP2_OK ||
               blip2_retrieval_encode_image(session, rgb, w, h, &image, &error) != BLIP2_OK) {
        status = fail(argv[2], error);
    } else {
        /* The features, for an application's own index: one row per query. */
        size_t n = (size_t)blip2_retrieval_query_count(model) * (size_t)blip2_retrieval_feature_size(model);
        float *features = malloc(n * sizeof(float));
        if (!features || blip2_retrieval_image_features(image, features, n, &error) != BLIP2_OK) {
            status = fail("features", error);
        }
        free(features);
        for (int i = 3; i < argc && status == 0; i++) {
            float p = 0, s = 0;
            if (blip2_retrieval_match(session, image, argv[i], &p, &s, &error) != BLIP2_OK) {
                status = fail(argv[i], error);
            } else {
                printf("itm %.4f  itc %.4f  %s\n", p, s, argv[i]);
            }
        }
    }
    blip2_retrieval_image_free(image);
    blip2_free_image(rgb);
    blip2_retrieval_session_free(session);
    blip2_retrieval_free(model);
    return status;
}
