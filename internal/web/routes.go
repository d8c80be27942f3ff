package web

import "net/http"

// routes is the index of the dashboard: every page and form is here.
// Paths under /apps/{appId}/ act in that app.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /static/{name}", s.eng.serveAsset)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.page(s.logout))
	m.HandleFunc("GET /{$}", s.page(s.home))

	// Apps and their API keys.
	m.HandleFunc("GET /apps", s.page(s.appsPage))
	m.HandleFunc("POST /apps", s.page(s.createApp))
	m.HandleFunc("GET /apps/{appId}", s.page(s.appHome))
	m.HandleFunc("GET /apps/{appId}/keys", s.page(s.keysPage))
	m.HandleFunc("POST /apps/{appId}/keys", s.page(s.createKey))
	m.HandleFunc("POST /apps/{appId}/keys/{prefix}/revoke", s.page(s.revokeKey))

	// Users.
	m.HandleFunc("GET /apps/{appId}/users", s.page(s.usersPage))
	m.HandleFunc("GET /apps/{appId}/users/new", s.page(s.newUserPage))
	m.HandleFunc("POST /apps/{appId}/users", s.page(s.createUser))
	m.HandleFunc("GET /apps/{appId}/users/{uid}", s.page(s.userPage))
	m.HandleFunc("POST /apps/{appId}/users/{uid}", s.page(s.updateUser))
	m.HandleFunc("POST /apps/{appId}/users/{uid}/deactivate", s.page(s.setUserActive(false)))
	m.HandleFunc("POST /apps/{appId}/users/{uid}/reactivate", s.page(s.setUserActive(true)))
	m.HandleFunc("POST /apps/{appId}/users/{uid}/token", s.page(s.issueToken))

	// Groups and members.
	m.HandleFunc("GET /apps/{appId}/groups", s.page(s.groupsPage))
	m.HandleFunc("POST /apps/{appId}/groups", s.page(s.createGroup))
	m.HandleFunc("GET /apps/{appId}/groups/{guid}", s.page(s.groupPage))
	m.HandleFunc("POST /apps/{appId}/groups/{guid}/members", s.page(s.addMember))
	m.HandleFunc("POST /apps/{appId}/groups/{guid}/members/{uid}/scope", s.page(s.changeScope))
	m.HandleFunc("POST /apps/{appId}/groups/{guid}/members/{uid}/kick", s.page(s.kickMember))
	m.HandleFunc("POST /apps/{appId}/groups/{guid}/members/{uid}/ban", s.page(s.banMember))

	// Custom bots, their health and delivery log.
	m.HandleFunc("GET /apps/{appId}/bots", s.page(s.botsPage))
	m.HandleFunc("GET /apps/{appId}/bots/new", s.page(s.newBotPage))
	m.HandleFunc("POST /apps/{appId}/bots", s.page(s.createBot))
	m.HandleFunc("GET /apps/{appId}/bots/{uid}", s.page(s.botPage))
	m.HandleFunc("GET /apps/{appId}/bots/{uid}/edit", s.page(s.editBotPage))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}", s.page(s.updateBot))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/enable", s.page(s.setBotEnabled(true)))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/disable", s.page(s.setBotEnabled(false)))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/delete", s.page(s.deleteBot))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/secret", s.page(s.rotateSecret))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/test", s.page(s.testBot))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/replay", s.page(s.replay))
	m.HandleFunc("GET /apps/{appId}/bots/{uid}/deliveries/{id}", s.page(s.deliveryPage))
	m.HandleFunc("POST /apps/{appId}/bots/{uid}/deliveries/{id}/retry", s.page(s.retryDelivery))

	// Chat console.
	m.HandleFunc("GET /apps/{appId}/console", s.page(s.consolePage))
	m.HandleFunc("GET /apps/{appId}/console/deliveries", s.page(s.consoleDeliveries))

	m.HandleFunc("/", s.notFound)
}

var _ http.Handler = (*Server)(nil)
