// The C interface's header as a module, so the Swift implementation (BLIP2EdgeC) uses the
// very blip2_params layout C programs compile against. The functions are defined in Swift.
#include "blip2_edge.h"
