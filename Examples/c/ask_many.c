/* Several questions about one image, the image encoded once and the answers streamed as they
 * are generated: ask_many MODEL IMAGE QUESTION... */
#include <stdio.h>
#include "blip2_edge.h"

static int print_piece(const char *piece, int token_id, void *user_data) {
    (void)token_id;
    int *pieces = user_data;
    fputs(piece, stdout);
    fflush(stdout);
    ++*pieces;
    return 0; /* non-zero would stop here */
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL IMAGE QUESTION...\n", argv[0]);
        return 2;
    }
    fprintf(stderr, "blip2-edge %s, kernels %s\n", blip2_version(), blip2_kernel_variant());
    char *error = NULL;
    blip2_model *model = NULL;
    blip2_session *session = NULL;
    blip2_image *image = NULL;
    uint8_t *rgb = NULL;
    int w = 0, h = 0, status = 0;
    if (blip2_load(argv[1], &model, &error) != BLIP2_OK || blip2_session_new(model, 0, &session, &error) != BLIP2_OK ||
        blip2_read_image(argv[2], &rgb, &w, &h, &error) != BLIP2_OK ||
        blip2_encode_image(session, rgb, w, h, &image, &error) != BLIP2_OK) {
        fprintf(stderr, "ask_many: %s\n", error);
        status = 1;
    }
    blip2_params params;
    blip2_ask_defaults(&params);
    params.num_beams = 1; /* streaming shows tokens only with greedy or sampled decoding */
    for (int i = 3; i < argc && status == 0; i++) {
        char *text = NULL;
        int pieces = 0;
        printf("%s -> ", argv[i]);
        if (blip2_generate_stream(session, image, argv[i], &params, print_piece, &pieces, &text, &error) != BLIP2_OK) {
            fprintf(stderr, "ask_many: %s\n", error);
            status = 1;
        } else {
            printf("\n(%d pieces; answer \"%s\")\n", pieces, text);
        }
        blip2_free_string(text);
    }
    blip2_free_string(error);
    blip2_image_free(image);
    blip2_free_image(rgb);
    blip2_session_free(session);
    blip2_free(model);
    return status;
}
