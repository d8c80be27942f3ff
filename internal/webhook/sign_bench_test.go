package webhook

import (
	"strings"
	"testing"
)

// BenchmarkSignAll measures the webhook-signature of one attempt over a
// callback of about 1 KiB, with one secret and during a rotation (two).
//
//	go test -run '^$' -bench SignAll ./internal/webhook/
func BenchmarkSignAll(b *testing.B) {
	body := []byte(`{"trigger":"after_message","data":{"text":"` + strings.Repeat("x", 1000) + `"}}`)
	for _, n := range []int{1, 2} {
		secrets := []string{NewSecret(), NewSecret()}[:n]
		b.Run(map[int]string{1: "one-secret", 2: "rotation"}[n], func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := SignAll(secrets, "msg_01JBENCHBENCHBENCHBENCHBE", 1764050000, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
