package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RedisError is an error reply from Redis ("-ERR …").
type RedisError string

func (e RedisError) Error() string { return string(e) }

// RedisDo sends one command to the Redis (or Sentinel) at addr over a new
// connection and returns the reply: a string for simple and bulk strings,
// nil for a null, an int64, a []any for an array, or a RedisError. It is
// the harness's own client, so testkit needs none, and bounded to d (2s
// when 0).
func RedisDo(addr string, d time.Duration, args ...string) (any, error) {
	if d == 0 {
		d = 2 * time.Second
	}
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(c))
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("testkit: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, RedisError(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			v, err := readReply(r)
			if err != nil {
				var re RedisError
				if !errors.As(err, &re) {
					return nil, err
				}
				v = re
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("testkit: unexpected reply %q", line)
}

// RedisString is RedisDo for a command whose reply is a string.
func RedisString(addr string, args ...string) (string, error) {
	v, err := RedisDo(addr, 0, args...)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("testkit: %s: reply %v is not a string", args[0], v)
	}
	return s, nil
}

// InfoField returns one field of INFO section from the server at addr.
func InfoField(addr, section, field string) (string, error) {
	info, err := RedisString(addr, "INFO", section)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return v, nil
		}
	}
	return "", fmt.Errorf("testkit: INFO %s has no %s", section, field)
}

// pairs turns a flat [k1, v1, k2, v2, …] reply into a map.
func pairs(v any) map[string]string {
	out := map[string]string{}
	a, _ := v.([]any)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		v, _ := a[i+1].(string)
		out[k] = v
	}
	return out
}
