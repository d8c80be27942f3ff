package app

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of dashboard passwords: OWASP's minimum for argon2id
// (19 MiB, 2 passes, 1 lane). A verification costs about 20-40 ms of one
// core and 19 MiB, which bounds how fast anyone can guess even before the
// login throttle, and is cheap enough for a handful of administrators.
// Hashes record their parameters, so raising them later keeps old hashes
// verifiable.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// hashPassword returns the PHC string form of an argon2id hash of pw with
// the default cost: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
// (unpadded base64).
func hashPassword(pw string) string { return hashPasswordCost(pw, argonMemoryKiB, argonTime) }

// hashPasswordCost is hashPassword with a given memory (KiB) and number of
// passes (tests lower them; the hash records them).
func hashPasswordCost(pw string, memoryKiB, passes uint32) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// verifyPassword reports whether pw matches the PHC hash, in constant time
// over the derived key. A malformed hash never matches.
func verifyPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<21 || t > 16 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
