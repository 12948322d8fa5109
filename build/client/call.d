build/client/call.o: client/call.c client/client.h client/net.h \
 common/frame.h common/json.h common/mp.h common/proto.h common/util.h
client/client.h:
client/net.h:
common/frame.h:
common/json.h:
common/mp.h:
common/proto.h:
common/util.h:
