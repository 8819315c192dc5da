// Package web embeds the built web client (web/dist, produced by
// `go tool task web:build`) so the chatsync binary serves it at /.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built client. It holds only .keep when the client was not
// built; Built reports which.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a literal directory of this package
	}
	return sub
}

// Built reports whether web/dist holds a built client (an index.html).
func Built() bool {
	_, err := fs.Stat(Dist(), "index.html")
	return err == nil
}
