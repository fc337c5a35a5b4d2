package backends

// The fixed parts of the HTTP contract. Every HTTP backend answers with these
// bytes; only the Date value (IMF-fixdate, cached ≤ 1 s) and header order may
// differ. Responses that carry a Date list it where noted.
const (
	// PlaintextBody is the body of GET /plaintext.
	PlaintextBody = "Hello, World!"
	// ContentTypePlain is the Content-Type of /plaintext, 404 and 413.
	ContentTypePlain = "text/plain"
	// ContentTypeEcho is the Content-Type of POST /echo responses.
	ContentTypeEcho = "application/octet-stream"
	// NotFoundBody is the body of the 404 for an unknown path
	// (Content-Type text/plain, Content-Length 9, Date).
	NotFoundBody = "Not Found"
	// TooLargeBody is the body of the 413 for a body over MaxBodyBytes
	// (Content-Type text/plain, Content-Length 24, Date, Connection: close).
	TooLargeBody = "Request Entity Too Large"
)

// Responses written before a request could be parsed carry no Date and are
// delimited by the connection closing, exactly as net/http writes them.
// fasthttp always writes a Date line and cannot write a body delimited by
// the close, so its copies also carry Date and Content-Length lines; those
// two lines are the only difference allowed.
const (
	// BadRequestResponse answers a malformed request; the connection closes.
	BadRequestResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	// HeaderTooLargeResponse answers a request line + headers over
	// MaxHeaderBytes; the connection closes.
	// VersionNotSupportedResponse answers a well-formed request line with
	// an HTTP major version other than 1 (GET / HTTP/2.0); the connection
	// closes. These are net/http's bytes.
	VersionNotSupportedResponse = "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"
	// NotImplementedResponse answers a request whose Transfer-Encoding is
	// not exactly chunked; the connection closes. These are net/http's bytes.
	NotImplementedResponse = "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"
	HeaderTooLargeResponse = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
)
