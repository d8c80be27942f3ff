// Command wswatch connects to parley's real-time endpoint as a user and
// prints every frame it receives, one JSON object per line. Lines typed on
// standard input are sent as client frames, for example:
//
//	{"type":"message","id":"1","data":{"receiver":"alice","receiverType":"user","data":{"text":"hi"}}}
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"

	"github.com/coder/websocket"
)

func main() {
	addr := flag.String("url", "ws://127.0.0.1:8080/v3/ws", "the real-time endpoint")
	appID := flag.String("app", "", "app id")
	token := flag.String("token", "", "the user's auth token")
	flag.Parse()
	if *appID == "" || *token == "" {
		fmt.Fprintln(os.Stderr, "wswatch: -app and -token are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	u := *addr + "?appId=" + url.QueryEscape(*appID) + "&authToken=" + url.QueryEscape(*token)
	conn, res, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		if res != nil {
			fmt.Fprintf(os.Stderr, "wswatch: %s: %v\n", res.Status, err)
		} else {
			fmt.Fprintf(os.Stderr, "wswatch: %v\n", err)
		}
		os.Exit(1)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if err := conn.Write(ctx, websocket.MessageText, sc.Bytes()); err != nil {
				return
			}
		}
	}()
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "wswatch: connection closed: %v\n", err)
			}
			return
		}
		fmt.Println(string(b))
	}
}
