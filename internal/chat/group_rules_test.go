package chat

import (
	"strings"
	"testing"
)

func TestGroupPassword(t *testing.T) {
	t.Parallel()
	h := HashGroupPassword("s3cret")
	if !strings.HasPrefix(h, "pbkdf2-sha256$100000$") || strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashGroupPassword("s3cret"); h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !CheckGroupPassword(h, "s3cret") {
		t.Fatal("right password refused")
	}
	for _, wrong := range []string{"", "s3cre", "s3cret ", "S3CRET"} {
		if CheckGroupPassword(h, wrong) {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	for _, bad := range []string{"", "s3cret", "pbkdf2-sha256$x$a$b", "md5$1$AAAA$AAAA", "pbkdf2-sha256$1$!!$AAAA", "pbkdf2-sha256$1$AAAA$"} {
		if CheckGroupPassword(bad, "s3cret") {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
}

func TestGroupActorRules(t *testing.T) {
	t.Parallel()
	owner := GroupActor{UID: "o", Member: true, Scope: ScopeAdmin, Owner: true}
	admin := GroupActor{UID: "a", Member: true, Scope: ScopeAdmin}
	mod := GroupActor{UID: "m", Member: true, Scope: ScopeModerator}
	part := GroupActor{UID: "p", Member: true, Scope: ScopeParticipant}
	stranger := GroupActor{UID: "s"}
	code := func(err error) string {
		if err == nil {
			return ""
		}
		e := AsError(err)
		if e == nil || e.Kind != KindForbidden {
			t.Fatalf("error %v is not a forbidden *Error", err)
		}
		return e.Code
	}
	type target struct {
		uid, scope string
		owner      bool
	}
	actOn := []struct {
		actor GroupActor
		on    target
		want  string
	}{
		{ServerActor, target{"x", ScopeAdmin, false}, ""},
		{ServerActor, target{"o", ScopeAdmin, true}, "ERR_GROUP_NO_CLEARANCE"},
		{owner, target{"a", ScopeAdmin, false}, ""},
		{owner, target{"o", ScopeAdmin, true}, "ERR_GROUP_NO_SELF_ACTION"},
		{admin, target{"a2", ScopeAdmin, false}, "ERR_GROUP_NO_SCOPE_CLEARANCE"},
		{admin, target{"m", ScopeModerator, false}, ""},
		{admin, target{"o", ScopeAdmin, true}, "ERR_GROUP_NO_CLEARANCE"},
		{admin, target{"nobody", "", false}, ""},
		{mod, target{"p", ScopeParticipant, false}, ""},
		{mod, target{"m2", ScopeModerator, false}, "ERR_GROUP_NO_SCOPE_CLEARANCE"},
		{mod, target{"a", ScopeAdmin, false}, "ERR_GROUP_NO_SCOPE_CLEARANCE"},
		{mod, target{"m", ScopeModerator, false}, "ERR_GROUP_NO_SELF_ACTION"},
		{part, target{"p2", ScopeParticipant, false}, "ERR_GROUP_NO_MODERATOR_SCOPE"},
		{stranger, target{"p", ScopeParticipant, false}, "ERR_GROUP_NOT_JOINED"},
	}
	for _, c := range actOn {
		if got := code(c.actor.CanActOn(c.on.uid, c.on.scope, c.on.owner)); got != c.want {
			t.Errorf("%+v acting on %+v: %q, want %q", c.actor, c.on, got, c.want)
		}
	}
	grant := []struct {
		actor GroupActor
		scope string
		want  string
	}{
		{ServerActor, ScopeAdmin, ""},
		{admin, ScopeAdmin, ""},
		{mod, ScopeModerator, ""},
		{mod, ScopeAdmin, "ERR_GROUP_NO_SCOPE_CLEARANCE"},
		{part, ScopeParticipant, "ERR_GROUP_NO_MODERATOR_SCOPE"},
	}
	for _, c := range grant {
		if got := code(c.actor.CanGrant(c.scope)); got != c.want {
			t.Errorf("%+v granting %s: %q, want %q", c.actor, c.scope, got, c.want)
		}
	}
	admin2 := []struct {
		actor GroupActor
		want  string
	}{
		{ServerActor, ""}, {owner, ""}, {admin, ""},
		{mod, "ERR_GROUP_NO_ADMIN_SCOPE"}, {stranger, "ERR_GROUP_NOT_JOINED"},
	}
	for _, c := range admin2 {
		if got := code(c.actor.CanAdminister()); got != c.want {
			t.Errorf("%+v administering: %q, want %q", c.actor, got, c.want)
		}
	}
}
