// Package greet is a tiny local module that the server and client both
// require, so their build info lists a dependency with a `=>` replacement.
package greet

// Header is the response header the server sets and the client prints.
const Header = "X-Greet"

// Value is the greeting carried in Header. Not inlined, so the binaries have
// a function from the dependency module in their function table.
//
//go:noinline
func Value(who string) string { return "hello, " + who }
