//go:build linux

package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNoTaskstats reports that the kernel's taskstats interface cannot be
// used here: the kernel lacks it, the network namespace is not the
// initial one, or the caller lacks CAP_NET_ADMIN.
var ErrNoTaskstats = errors.New("taskstats not available")

// ProcessCtxSwitches returns the voluntary and involuntary context
// switches of every thread process pid has had, those that have exited
// included, from the kernel's taskstats interface: one netlink request
// whose cost does not grow with the threads' number, where reading
// /proc/PID/task/*/status takes milliseconds at 64 threads. It returns an
// error wrapping ErrNoTaskstats when the interface cannot be used and one
// wrapping ErrExited when the process is gone.
func ProcessCtxSwitches(pid int) (uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoTaskstats, err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoTaskstats, err)
	}
	family, err := taskstatsFamily(fd)
	if err != nil {
		return 0, err
	}
	attrs, err := genlRequest(fd, family, unix.TASKSTATS_CMD_GET, nlAttr(unix.TASKSTATS_CMD_ATTR_TGID, binary.NativeEndian.AppendUint32(nil, uint32(pid))))
	if errors.Is(err, unix.ESRCH) {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrExited)
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return 0, fmt.Errorf("%w: %v", ErrNoTaskstats, err)
	}
	if err != nil {
		return 0, fmt.Errorf("taskstats of pid %d: %w", pid, err)
	}
	return taskstatsCtxSwitches(attrs)
}

// taskstatsCtxSwitches reads nvcsw + nivcsw from the attributes of a
// TASKSTATS_CMD_GET answer: TASKSTATS_TYPE_AGGR_TGID holding
// TASKSTATS_TYPE_STATS, a struct taskstats.
func taskstatsCtxSwitches(attrs []byte) (uint64, error) {
	aggr, ok := findAttr(attrs, unix.TASKSTATS_TYPE_AGGR_TGID)
	if !ok {
		return 0, errors.New("taskstats: no aggregate in the answer")
	}
	stats, ok := findAttr(aggr, unix.TASKSTATS_TYPE_STATS)
	off := int(unsafe.Offsetof(unix.Taskstats{}.Nvcsw))
	if !ok || len(stats) < off+16 {
		return 0, errors.New("taskstats: no context switches in the answer")
	}
	return binary.NativeEndian.Uint64(stats[off:]) + binary.NativeEndian.Uint64(stats[off+8:]), nil
}

// taskstatsFamily resolves the generic netlink family id of "TASKSTATS".
func taskstatsFamily(fd int) (uint16, error) {
	name := append([]byte(unix.TASKSTATS_GENL_NAME), 0)
	attrs, err := genlRequest(fd, unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, nlAttr(unix.CTRL_ATTR_FAMILY_NAME, name))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoTaskstats, err)
	}
	id, ok := findAttr(attrs, unix.CTRL_ATTR_FAMILY_ID)
	if !ok || len(id) < 2 {
		return 0, fmt.Errorf("%w: no family id", ErrNoTaskstats)
	}
	return binary.NativeEndian.Uint16(id), nil
}

// genlRequest sends one generic netlink request and returns the
// attributes of its answer, or the kernel's error as a unix.Errno.
func genlRequest(fd int, family uint16, cmd uint8, attrs []byte) ([]byte, error) {
	const hdr = unix.SizeofNlMsghdr + sizeofGenlmsghdr
	msg := make([]byte, hdr, hdr+len(attrs))
	binary.NativeEndian.PutUint32(msg[0:], uint32(hdr+len(attrs)))
	binary.NativeEndian.PutUint16(msg[4:], family)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence number
	msg[unix.SizeofNlMsghdr] = cmd
	msg[unix.SizeofNlMsghdr+1] = 1 // version
	msg = append(msg, attrs...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil, err
	}
	return parseGenlAnswer(buf[:n])
}

// parseGenlAnswer returns the attributes of the first message of a
// generic netlink answer, or its error.
func parseGenlAnswer(b []byte) ([]byte, error) {
	if len(b) < unix.SizeofNlMsghdr {
		return nil, errors.New("netlink: short answer")
	}
	length := int(binary.NativeEndian.Uint32(b[0:]))
	typ := binary.NativeEndian.Uint16(b[4:])
	if length < unix.SizeofNlMsghdr || length > len(b) {
		return nil, errors.New("netlink: bad message length")
	}
	b = b[unix.SizeofNlMsghdr:length]
	if typ == unix.NLMSG_ERROR {
		if len(b) < 4 {
			return nil, errors.New("netlink: short error")
		}
		if code := int32(binary.NativeEndian.Uint32(b)); code != 0 {
			return nil, unix.Errno(-code)
		}
		return nil, errors.New("netlink: acknowledgement without an answer")
	}
	if len(b) < sizeofGenlmsghdr {
		return nil, errors.New("netlink: short generic header")
	}
	return b[sizeofGenlmsghdr:], nil
}

// nlAttr encodes one netlink attribute, padded to 4 bytes.
func nlAttr(typ uint16, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(unix.SizeofNlAttr+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// findAttr returns the payload of the first attribute of type typ in b.
func findAttr(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		t := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.SizeofNlAttr || l > len(b) {
			return nil, false
		}
		if t == typ {
			return b[unix.SizeofNlAttr:l], true
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			return nil, false
		}
		b = b[l:]
	}
	return nil, false
}

// sizeofGenlmsghdr is the size of struct genlmsghdr (cmd, version, reserved).
const sizeofGenlmsghdr = int(unsafe.Sizeof(unix.Genlmsghdr{}))
