package api

import (
	"net/http"

	"parley/internal/chat"
)

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
	s.handle("GET /v3/messages", fullAccess, s.listMessages)
	s.handle("GET /v3/messages/{id}", fullAccess, s.getMessage)
	s.handle("PUT /v3/messages/{id}", fullAccess, s.editMessage)
	s.handle("DELETE /v3/messages/{id}", fullAccess, s.deleteMessage)
	s.handle("POST /v3/messages/{id}/thread", fullAccess, s.sendThreadMessage)
	s.handle("GET /v3/messages/{id}/thread", fullAccess, s.listThread)
	s.handle("GET /v3/users/{uid}/messages", fullAccess, s.listUserMessages)
	s.handle("GET /v3/groups/{guid}/messages", fullAccess, s.listGroupMessages)

	// Conversations and receipts.
	// (conversations section)
	s.handle("GET /v3/conversations", fullAccess, s.listConversations)
	s.handle("GET /v3/users/{uid}/conversation", fullAccess, s.getUserConversation)
	s.handle("GET /v3/groups/{guid}/conversation", fullAccess, s.getGroupConversation)
	s.handle("POST /v3/users/{uid}/conversation/read", fullAccess, s.markUser(chat.ReceiptRead))
	s.handle("POST /v3/users/{uid}/conversation/delivered", fullAccess, s.markUser(chat.ReceiptDelivered))
	s.handle("POST /v3/groups/{guid}/conversation/read", fullAccess, s.markGroup(chat.ReceiptRead))
	s.handle("POST /v3/groups/{guid}/conversation/delivered", fullAccess, s.markGroup(chat.ReceiptDelivered))

	// Custom bots and their delivery log.
	s.handle("POST /v3/bots", fullAccess, s.createBot)
	s.handle("GET /v3/bots", fullAccess, s.listBots)
	s.handle("GET /v3/bots/{uid}", fullAccess, s.getBot)
	s.handle("PUT /v3/bots/{uid}", fullAccess, s.updateBot)
	s.handle("DELETE /v3/bots/{uid}", fullAccess, s.deleteBot)
	s.handle("POST /v3/bots/{uid}/messages", fullAccess, s.botSend)
	s.handle("POST /v3/bots/{uid}/secret", fullAccess, s.rotateBotSecret)
	s.handle("POST /v3/bots/{uid}/test", fullAccess, s.testBot)
	s.handle("GET /v3/bots/{uid}/deliveries", fullAccess, s.listDeliveries)
	s.handle("POST /v3/bots/{uid}/deliveries/replay", fullAccess, s.replayDeliveries)
	s.handle("GET /v3/bots/{uid}/deliveries/{id}", fullAccess, s.getDelivery)
	s.handle("POST /v3/bots/{uid}/deliveries/{id}/retry", fullAccess, s.retryDelivery)

	// Real time.
	s.mux.HandleFunc("GET /v3/ws", s.websocket)

	// Everything else.
	s.mux.HandleFunc("/", s.notFound)
}

var _ http.Handler = (*Server)(nil)
