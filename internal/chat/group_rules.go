package chat

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMembersPerCall bounds how many uids one add-members call (or the
// members of a group create) may name across admins, moderators,
// participants and usersToBan, as CometChat documents (25). A larger call
// is refused as a whole with ERR_BAD_REQUEST.
const MaxMembersPerCall = 25

// Group passwords are stored as PBKDF2-SHA256 hashes with a random 16-byte
// salt. groupPasswordIter is the work factor of new hashes: about 16 ms of
// CPU per hash or check on a 2020 server core. It is below OWASP's 600,000
// because a group password is a secret shared by every member and every
// join with a password pays the cost; the stored string carries its own
// count, so raising it later needs no migration.
const (
	groupPasswordIter    = 100_000
	groupPasswordSaltLen = 16
	groupPasswordKeyLen  = 32
	groupPasswordScheme  = "pbkdf2-sha256"
)

// HashGroupPassword returns the stored form of a group password:
// "pbkdf2-sha256$<iterations>$<salt>$<key>", salt and key in unpadded
// base64. It is slow on purpose: call it outside a write transaction.
func HashGroupPassword(password string) string {
	salt := make([]byte, groupPasswordSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms
	key, err := pbkdf2.Key(sha256.New, password, salt, groupPasswordIter, groupPasswordKeyLen)
	if err != nil {
		// Only invalid parameters (or FIPS-only mode limits) fail; ours are
		// constants, so this is a programming error.
		panic("chat: hash group password: " + err.Error())
	}
	enc := base64.RawStdEncoding
	return groupPasswordScheme + "$" + strconv.Itoa(groupPasswordIter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key)
}

// CheckGroupPassword reports whether password matches a hash made by
// HashGroupPassword, in constant time with respect to the key. An empty or
// malformed hash matches nothing. It is slow on purpose: call it outside a
// write transaction.
func CheckGroupPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != groupPasswordScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidateGroupPassword checks the length of a group password.
func ValidateGroupPassword(v *Validation, password string) {
	if utf8.RuneCountInString(password) > MaxGroupPassword {
		v.Add("password", "The password may not be greater than %d characters.", MaxGroupPassword)
	}
}

// ValidateDescription checks a group description.
func ValidateDescription(v *Validation, description string) {
	switch {
	case !utf8.ValidString(description):
		v.Add("description", "The description must be valid UTF-8.")
	case utf8.RuneCountInString(description) > MaxDescriptionLen:
		v.Add("description", "The description may not be greater than %d characters.", MaxDescriptionLen)
	}
}

// ErrEmptyGroupPassword is the error for a password group without a
// password, or a join of one without the password.
func ErrEmptyGroupPassword() *Error {
	return Errorf(KindInvalid, "ERR_EMPTY_GROUP_PASS", "A group of type password needs a password.")
}

// GroupActor is who performs an action on a group: the server itself (an
// API key without onBehalfOf; UID "") or a user, with that user's
// membership of the group. Its methods are the permission rules of
// docs/decisions/groups.md; each returns nil or a KindForbidden *Error.
type GroupActor struct {
	UID    string // "" for the server
	Member bool
	Scope  string // the member's scope when Member
	Owner  bool
}

// ServerActor is the API key acting without onBehalfOf.
var ServerActor = GroupActor{}

// IsServer reports whether the actor is the server rather than a user.
func (a GroupActor) IsServer() bool { return a.UID == "" }

// Ranks of actors: the server above the owner above admins, moderators and
// participants (ScopeRank: 3, 2, 1); a non-member is 0.
const (
	rankOwner  = 4
	rankServer = 5
)

func (a GroupActor) rank() int {
	switch {
	case a.IsServer():
		return rankServer
	case !a.Member:
		return 0
	case a.Owner:
		return rankOwner
	}
	return ScopeRank(a.Scope)
}

func errNotJoined(uid string) *Error {
	return Errorf(KindForbidden, "ERR_GROUP_NOT_JOINED", "The user %s is not a member of the group.", uid)
}

// CanAdminister says whether the actor may update or delete the group:
// the server and admins (the owner is an admin).
func (a GroupActor) CanAdminister() error {
	switch {
	case a.IsServer():
		return nil
	case !a.Member:
		return errNotJoined(a.UID)
	case a.rank() < ScopeRank(ScopeAdmin):
		return Errorf(KindForbidden, "ERR_GROUP_NO_ADMIN_SCOPE", "Only an admin of the group may do this; %s is a %s.", a.UID, a.Scope)
	}
	return nil
}

// CanModerate says whether the actor may manage members at all (add, kick,
// ban, unban, change scopes, list bans): the server, admins and
// moderators.
func (a GroupActor) CanModerate() error {
	switch {
	case a.IsServer():
		return nil
	case !a.Member:
		return errNotJoined(a.UID)
	case a.rank() < ScopeRank(ScopeModerator):
		return Errorf(KindForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "Only an admin or a moderator of the group may do this; %s is a %s.", a.UID, a.Scope)
	}
	return nil
}

// CanActOn says whether the actor may kick, ban or change the scope of
// the user targetUID, whose scope in the group is targetScope ("" when not
// a member). Nobody acts on themselves this way (leaving is its own
// action), nobody acts on the owner (ownership is transferred first), and
// a user acts only on members below its own rank: an admin on moderators
// and participants, the owner on admins too, a moderator on participants.
func (a GroupActor) CanActOn(targetUID, targetScope string, targetIsOwner bool) error {
	if !a.IsServer() && a.UID == targetUID {
		return Errorf(KindForbidden, "ERR_GROUP_NO_SELF_ACTION", "A member cannot do this to itself.")
	}
	if err := a.CanModerate(); err != nil {
		return err
	}
	if targetIsOwner {
		return Errorf(KindForbidden, "ERR_GROUP_NO_CLEARANCE", "The user %s owns the group: transfer the ownership first.", targetUID)
	}
	if a.rank() <= ScopeRank(targetScope) {
		return Errorf(KindForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "A %s cannot act on a %s.", a.Scope, targetScope)
	}
	return nil
}

// CanGrant says whether the actor may give a member the scope (when adding
// it or changing its scope): at most the actor's own scope.
func (a GroupActor) CanGrant(scope string) error {
	if err := a.CanModerate(); err != nil {
		return err
	}
	if ScopeRank(scope) > a.rank() {
		return Errorf(KindForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "A %s cannot make members %ss.", a.Scope, scope)
	}
	return nil
}
