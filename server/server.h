/* server.h -- the process-wide state of mediflowd. */
#ifndef MF_SERVER_H
#define MF_SERVER_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "frame.h"

#define MEDIFLOWD_VERSION	"0.1.0"

struct server {
	struct config		 cfg;
	struct event_base	*base;
	struct frame_limits	 limits;
	int64_t			 started_at;
	int			 draining;
};

extern struct server	server;

#endif
