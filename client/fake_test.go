package client_test

import (
	"context"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// fakeSync is a SyncService whose methods are func fields; nil ones answer
// unimplemented.
type fakeSync struct {
	chatsyncv1connect.UnimplementedSyncServiceHandler
	SyncBatchFn       func(context.Context, *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error)
	GetSyncBatchFn    func(context.Context, *chatsyncv1.GetSyncBatchRequest) (*chatsyncv1.GetSyncBatchResponse, error)
	WatchCommandsFn   func(context.Context, *chatsyncv1.WatchCommandsRequest, *connect.ServerStream[chatsyncv1.WatchCommandsResponse]) error
	CompleteCommandFn func(context.Context, *chatsyncv1.CompleteCommandRequest) (*chatsyncv1.CompleteCommandResponse, error)
}

func (f *fakeSync) SyncBatch(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	if f.SyncBatchFn == nil {
		return f.UnimplementedSyncServiceHandler.SyncBatch(ctx, req)
	}
	return f.SyncBatchFn(ctx, req)
}

func (f *fakeSync) GetSyncBatch(ctx context.Context, req *chatsyncv1.GetSyncBatchRequest) (*chatsyncv1.GetSyncBatchResponse, error) {
	if f.GetSyncBatchFn == nil {
		return f.UnimplementedSyncServiceHandler.GetSyncBatch(ctx, req)
	}
	return f.GetSyncBatchFn(ctx, req)
}

func (f *fakeSync) WatchCommands(ctx context.Context, req *chatsyncv1.WatchCommandsRequest, s *connect.ServerStream[chatsyncv1.WatchCommandsResponse]) error {
	if f.WatchCommandsFn == nil {
		return f.UnimplementedSyncServiceHandler.WatchCommands(ctx, req, s)
	}
	return f.WatchCommandsFn(ctx, req, s)
}

func (f *fakeSync) CompleteCommand(ctx context.Context, req *chatsyncv1.CompleteCommandRequest) (*chatsyncv1.CompleteCommandResponse, error) {
	if f.CompleteCommandFn == nil {
		return f.UnimplementedSyncServiceHandler.CompleteCommand(ctx, req)
	}
	return f.CompleteCommandFn(ctx, req)
}

// accept answers a batch as queued with all chats accepted.
func accept(_ context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	return &chatsyncv1.SyncBatchResponse{
		BatchId:       req.GetBatchId(),
		Status:        chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED,
		AcceptedCount: int32(len(req.GetChats())),
	}, nil
}
