package api

import "net/http"

// routes is the index of the API: every path parley serves is here.
func (s *Server) routes() {
	// API keys.
	s.handle("POST /v3/apikeys", fullAccess, s.createAPIKey)
	s.handle("GET /v3/apikeys", fullAccess, s.listAPIKeys)
	s.handle("GET /v3/apikeys/{apiKey}", fullAccess, s.getAPIKey)
	s.handle("PUT /v3/apikeys/{apiKey}", fullAccess, s.updateAPIKey)
	s.handle("DELETE /v3/apikeys/{apiKey}", fullAccess, s.deleteAPIKey)

	// Users.
	s.handle("POST /v3/users", authOnly, s.createUser)
	s.handle("GET /v3/users", fullAccess, s.listUsers)
	s.handle("PUT /v3/users", fullAccess, s.reactivateUsers)
	s.handle("DELETE /v3/users", fullAccess, s.deactivateUsers)
	s.handle("GET /v3/users/{uid}", fullAccess, s.getUser)
	s.handle("PUT /v3/users/{uid}", fullAccess, s.updateUser)
	s.handle("DELETE /v3/users/{uid}", fullAccess, s.deleteUser)

	// Blocked users.
	s.handle("POST /v3/users/{uid}/blockedusers", fullAccess, s.blockUsers)
	s.handle("DELETE /v3/users/{uid}/blockedusers", fullAccess, s.unblockUsers)
	s.handle("GET /v3/users/{uid}/blockedusers", fullAccess, s.listBlockedUsers)

	// Auth tokens.
	s.handle("POST /v3/users/{uid}/auth_tokens", authOnly, s.createAuthToken)
	s.handle("GET /v3/users/{uid}/auth_tokens", fullAccess, s.listAuthTokens)
	s.handle("DELETE /v3/users/{uid}/auth_tokens", fullAccess, s.deleteAuthTokens)
	s.handle("GET /v3/users/{uid}/auth_tokens/{authToken}", fullAccess, s.getAuthToken)
	s.handle("PUT /v3/users/{uid}/auth_tokens/{authToken}", fullAccess, s.updateAuthToken)
	s.handle("DELETE /v3/users/{uid}/auth_tokens/{authToken}", fullAccess, s.deleteAuthToken)

	// Groups, members and bans.
	// (groups section)
	s.handle("POST /v3/groups", fullAccess, s.createGroup)
	s.handle("GET /v3/groups", fullAccess, s.listGroups)
	s.handle("GET /v3/groups/{guid}", fullAccess, s.getGroup)
	s.handle("PUT /v3/groups/{guid}", fullAccess, s.updateGroup)
	s.handle("DELETE /v3/groups/{guid}", fullAccess, s.deleteGroup)
	s.handle("POST /v3/groups/{guid}/members", fullAccess, s.addMembers) // also join: docs/decisions/groups.md
	s.handle("GET /v3/groups/{guid}/members", fullAccess, s.listMembers)
	s.handle("PUT /v3/groups/{guid}/members/{uid}", fullAccess, s.changeMemberScope)
	s.handle("DELETE /v3/groups/{guid}/members/{uid}", fullAccess, s.removeMember) // kick, or leave when uid is onBehalfOf
	s.handle("POST /v3/groups/{guid}/bannedusers/{uid}", fullAccess, s.banMember)
	s.handle("DELETE /v3/groups/{guid}/bannedusers/{uid}", fullAccess, s.unbanMember)
	s.handle("GET /v3/groups/{guid}/bannedusers", fullAccess, s.listBannedUsers)

	// Messages and threads.
	s.handle("POST /v3/messages", fullAccess, s.sendMessage)
	// (messages section)

	// Conversations and receipts.
	// (conversations section)

	// Real time.
	s.mux.HandleFunc("GET /v3/ws", s.websocket)

	// Everything else.
	s.mux.HandleFunc("/", s.notFound)
}

var _ http.Handler = (*Server)(nil)
