package chat

import "strings"

// parseEnum matches s case-insensitively against values and returns the
// canonical spelling.
func parseEnum(s string, values ...string) (string, bool) {
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return "", false
}
