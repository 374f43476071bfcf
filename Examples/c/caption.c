/* Captions PPM images with the C interface: caption MODEL IMAGE... [--ask QUESTION] */
#include <stdio.h>
#include <string.h>
#include "blip2_edge.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE... [--ask QUESTION]\n", argv[0]);
        return 2;
    }
    const char *question = NULL;
    int last = argc;
    if (argc >= 5 && strcmp(argv[argc - 2], "--ask") == 0) {
        question = argv[argc - 1];
        last = argc - 2;
    }
    char *error = NULL;
    blip2_model *model = NULL;
    if (blip2_load(argv[1], &model, &error) != BLIP2_OK) {
        fprintf(stderr, "caption: %s\n", error);
        blip2_free_string(error);
        return 1;
    }
    blip2_session *session = NULL;
    if (blip2_session_new(model, 0, &session, &error) != BLIP2_OK) {
        fprintf(stderr, "caption: %s\n", error);
        blip2_free_string(error);
        blip2_free(model);
        return 1;
    }
    blip2_params params;
    blip2_caption_defaults(&params);
    params.num_beams = 1; /* greedy: quick on a small board */
    int status = 0;
    for (int i = 2; i < last; i++) {
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        char *text = NULL;
        blip2_status s = blip2_read_image(argv[i], &rgb, &w, &h, &error);
        if (s == BLIP2_OK) {
            s = question ? blip2_ask(session, rgb, w, h, question, NULL, &text, &error)
                         : blip2_caption(session, rgb, w, h, &params, &text, &error);
        }
        if (s == BLIP2_OK) {
            printf("%s: %s\n", argv[i], text);
        } else {
            fprintf(stderr, "caption: %s (status %d)\n", error, (int)s);
            status = 1;
        }
        blip2_free_string(text);
        blip2_free_string(error);
        error = NULL;
        blip2_free_image(rgb);
    }
    blip2_session_free(session);
    blip2_free(model);
    return status;
}
