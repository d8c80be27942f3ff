package app

import (
	"context"
	"time"

	"parley/internal/store"
)

// SetPresence records a user's connection changes: lastActiveAt is the time
// the first connection opened or the last one closed. The live status
// itself comes from the hub (Publisher.Online).
func (a *App) SetPresence(ctx context.Context, appID, uid string, online bool, at time.Time) {
	err := a.db.Write(ctx, func(tx *store.Tx) error {
		return tx.SetLastActive(ctx, appID, uid, at.Unix())
	})
	if err != nil {
		a.log.Warn("app: record presence", "app", appID, "uid", uid, "online", online, "err", err)
	}
}
