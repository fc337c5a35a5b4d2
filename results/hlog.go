package results

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ErrEmptyHlog reports an interval log that holds no histogram.
var ErrEmptyHlog = errors.New("no interval histograms in log")

// ReadHlog returns the sum of the interval histograms in the HdrHistogram
// interval log at path. Only intervals carrying the same tag as the first
// one are summed (normally untagged), so a log that also holds tagged
// side histograms still yields one distribution.
func ReadHlog(path string) (*hdrhistogram.Histogram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read hlog: %w", err)
	}
	defer f.Close()
	h, err := sumHlog(f)
	if err != nil {
		return nil, fmt.Errorf("read hlog %s: %w", path, err)
	}
	return h, nil
}

// sumHlog adds up the interval histograms of an interval log read from r
// that carry the first interval's tag.
func sumHlog(r io.Reader) (*hdrhistogram.Histogram, error) {
	ivs, err := readIntervals(r)
	if err != nil {
		return nil, err
	}
	var acc *hdrhistogram.Histogram
	for n, h := range ivs {
		if acc, err = mergeExact(acc, h); err != nil {
			return nil, fmt.Errorf("interval %d: %w", n+1, err)
		}
	}
	return acc, nil
}

// MergeHlogs adds the logs of several generators into one histogram and
// returns it with its total count. The merge is exact: every log must use
// the same lowest discernible value and significant figures; differing
// highest trackable values are widened to the largest.
func MergeHlogs(paths []string) (*hdrhistogram.Histogram, uint64, error) {
	if len(paths) == 0 {
		return nil, 0, errors.New("merge hlogs: no files given")
	}
	var acc *hdrhistogram.Histogram
	for _, p := range paths {
		h, err := ReadHlog(p)
		if err != nil {
			return nil, 0, fmt.Errorf("merge hlogs: %w", err)
		}
		if acc, err = mergeExact(acc, h); err != nil {
			return nil, 0, fmt.Errorf("merge hlogs: %s: %w", p, err)
		}
	}
	return acc, uint64(acc.TotalCount()), nil
}

// mergeExact adds h into acc and returns the sum, which may be a new,
// wider histogram. A nil acc starts the sum from a copy of h.
func mergeExact(acc, h *hdrhistogram.Histogram) (*hdrhistogram.Histogram, error) {
	if acc == nil {
		return h.Clone(), nil
	}
	if acc.LowestTrackableValue() != h.LowestTrackableValue() ||
		acc.SignificantFigures() != h.SignificantFigures() {
		return nil, fmt.Errorf("histogram precision differs (lowest %d, %d significant figures vs lowest %d, %d); cannot merge exactly",
			acc.LowestTrackableValue(), acc.SignificantFigures(), h.LowestTrackableValue(), h.SignificantFigures())
	}
	if h.HighestTrackableValue() > acc.HighestTrackableValue() {
		wide := hdrhistogram.New(acc.LowestTrackableValue(), h.HighestTrackableValue(), int(acc.SignificantFigures()))
		if dropped := wide.Merge(acc); dropped != 0 {
			return nil, fmt.Errorf("%d values dropped while widening", dropped)
		}
		acc = wide
	}
	if dropped := acc.Merge(h); dropped != 0 {
		return nil, fmt.Errorf("%d values dropped in merge", dropped)
	}
	return acc, nil
}
