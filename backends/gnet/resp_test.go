package gnet

import "fmt"

const testDate = "Sun, 06 Nov 1994 08:49:37 GMT"

// resp builds an expected response with the test date.
func resp(status, ctype, body, conn string) string {
	s := "HTTP/1.1 " + status + "\r\nContent-Type: " + ctype + "\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\nDate: " + testDate + "\r\n"
	if conn != "" {
		s += "Connection: " + conn + "\r\n"
	}
	return s + "\r\n" + body
}

var okPlain = resp("200 OK", "text/plain", "Hello, World!", "")

var tooLarge = resp("413 Request Entity Too Large", "text/plain", "Request Entity Too Large", "close")
