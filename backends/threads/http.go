package threads

// serveHTTP is wired to the shared HTTP/1.1 engine once it exists.
func serveHTTP(fd int) { serveEcho(fd) }
