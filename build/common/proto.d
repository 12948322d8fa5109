build/common/proto.o: common/proto.c common/proto.h common/util.h
common/proto.h:
common/util.h:
