package app_test

import (
	"context"
	"testing"

	"parley/internal/app/apptest"
)

// BenchmarkAuthenticate measures resolving an app id and REST API key into
// a caller, which every REST request does first, from concurrent requests.
//
//	go test -run '^$' -bench Authenticate ./internal/app/
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	a, na, _ := apptest.Open(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, na.App.ID, na.RESTAPIKey, "alice"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
