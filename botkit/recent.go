package botkit

// maxIDBytes bounds the webhook-ids a recentSet remembers. parley's ids are
// 30 bytes; a longer id is not remembered (its duplicates run again), so a
// client cannot fill memory with huge ids.
const maxIDBytes = 128

// recentSet remembers the last n ids added, first in first out. It is not
// safe for concurrent use; Handler guards it with its mutex.
type recentSet struct {
	ids  map[string]struct{}
	ring []string // ring[next] is the oldest id once the ring is full
	next int
}

func newRecentSet(n int) recentSet {
	return recentSet{ids: make(map[string]struct{}, n), ring: make([]string, 0, n)}
}

// add records id and reports whether it is new. An empty or too long id is
// always new and is not recorded.
func (s *recentSet) add(id string) bool {
	if id == "" || len(id) > maxIDBytes || cap(s.ring) == 0 {
		return true
	}
	if _, dup := s.ids[id]; dup {
		return false
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, id)
	} else {
		delete(s.ids, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % len(s.ring)
	}
	s.ids[id] = struct{}{}
	return true
}
