build/common/frame.o: common/frame.c common/frame.h common/proto.h
common/frame.h:
common/proto.h:
