build/server/server.o: server/server.c server/server.h server/config.h \
 common/frame.h
server/server.h:
server/config.h:
common/frame.h:
