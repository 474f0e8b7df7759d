package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/store"
)

// listResources pages through one table of resources by (name, ARN) and calls emit for each
// resource of the page. kind and filter bind the nextToken to this list.
func (s *Server) listResources(ctx context.Context, caller Caller, table *store.Resources, kind, prefix, contains string,
	token *string, limit int, emit func(*store.Resource) error) (*string, error) {
	filter := prefix + "\x00" + contains
	p := store.ListParams{AccountID: caller.AccountID, Region: caller.Region, NamePrefix: prefix, NameContains: contains, Limit: limit + 1}
	if token != nil {
		pos, err := s.tokens.open(*token, kind, caller.AccountID+"/"+caller.Region, filter)
		if err != nil {
			return nil, err
		}
		p.AfterName, p.AfterARN = pos.Name, pos.ARN
	}
	rows, err := table.List(ctx, p)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind)
	}
	var next *string
	if len(rows) > limit {
		last := rows[limit-1]
		next = proto.String(s.tokens.mint(pagePosition{Kind: kind, Account: caller.AccountID + "/" + caller.Region, Filter: filter, Name: last.Name, ARN: last.ARN}))
		rows = rows[:limit]
	}
	for _, r := range rows {
		if err := emit(r); err != nil {
			return nil, s.storeErr(ctx, err, r.ARN)
		}
	}
	return next, nil
}

func timeFromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
