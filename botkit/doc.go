// Package botkit is for writing bots for parley, a self-hosted chat server
// compatible with CometChat's REST API (and for CometChat custom bots).
//
// A bot is a chat user with a callback URL. For each message the bot should
// see, parley POSTs a Callback to that URL; the bot answers 200 at once and
// replies later through the REST API. Verifier checks that a callback comes
// from parley (Standard Webhooks signature, basic auth, or both), Handler
// serves the callback URL (verify, answer, run the bot's function in the
// background, drop duplicate deliveries), and Client sends the reply.
//
// The package uses only the standard library and does not depend on
// parley's internals, so bot programs can import it alone. See the example
// for a complete echo bot.
package botkit
