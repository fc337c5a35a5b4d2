package backends

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestAppendDateAt(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"rfc example", time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC), "Sun, 06 Nov 1994 08:49:37 GMT"},
		{"other zone is shown in GMT", time.Date(2024, time.February, 29, 23, 59, 59, 999e6, time.FixedZone("X", -3600)), "Fri, 01 Mar 2024 00:59:59 GMT"},
		{"single digit day", time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC), "Fri, 02 Jan 2026 03:04:05 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendDateAt([]byte("Date: "), tt.now))
			if got != "Date: "+tt.want {
				t.Fatalf("got %q, want %q", got, "Date: "+tt.want)
			}
		})
	}
}

func TestAppendDateParses(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	got := AppendDate(nil)
	after := time.Now()
	if len(got) != 29 {
		t.Fatalf("len %d, want 29: %q", len(got), got)
	}
	ts, err := http.ParseTime(string(got))
	if err != nil {
		t.Fatalf("ParseTime(%q): %v", got, err)
	}
	if ts.Before(before) || ts.After(after) {
		t.Fatalf("date %v outside [%v, %v]", ts, before, after)
	}
}

// TestAppendDateCachedPerSecond checks, on the bubble's clock, that the
// value is formatted once per second and follows the clock.
func TestAppendDateCachedPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cachedDate.Store(nil) // a later second from another test would be kept
		first := string(AppendDate(nil))
		stamp := cachedDate.Load()
		if want := time.Now().UTC().Format(http.TimeFormat); first != want {
			t.Fatalf("got %q, want %q", first, want)
		}
		time.Sleep(999 * time.Millisecond) // the bubble starts on a whole second
		if got := string(AppendDate(nil)); got != first || cachedDate.Load() != stamp {
			t.Fatalf("within the second: got %q (stamp replaced: %v), want %q", got, cachedDate.Load() != stamp, first)
		}
		time.Sleep(time.Millisecond)
		got := string(AppendDate(nil))
		if want := time.Now().UTC().Format(http.TimeFormat); got != want || got == first {
			t.Fatalf("next second: got %q, want %q", got, want)
		}
	})
}

func TestAppendDateConcurrent(t *testing.T) {
	base := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				now := base.Add(time.Duration((g+i)%5) * time.Second)
				got := string(appendDateAt(nil, now))
				if want := now.Format(http.TimeFormat); got != want {
					t.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkAppendDate(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = AppendDate(buf[:0])
	}
}
