build/server/ratelimit.o: server/ratelimit.c server/ratelimit.h \
 common/util.h
server/ratelimit.h:
common/util.h:
