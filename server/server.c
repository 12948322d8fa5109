/* server.c -- the process-wide state of mediflowd (apart from main, so the
 * unit tests can link everything but main). */
#include "server.h"

struct server	server;
