// Package results holds the result schema (one Row per measured cell), its
// CSV form, HdrHistogram log IO, merging, the report and the plots.
package results

// Row is one measured cell × repetition: one line of summary.csv. The csv
// tag is the column name; units live in the names. Columns are only ever
// appended, never renamed or reordered, once published.
type Row struct {
	RunID    string  `csv:"run_id"`
	Cell     string  `csv:"cell"` // stable cell key, used by -resume and compare
	Rep      int     `csv:"rep"`
	Backend  string  `csv:"backend"`
	Proto    string  `csv:"proto"`
	Workload string  `csv:"workload"` // e.g. plaintext, echo, post
	Conns    int     `csv:"conns"`
	Pipeline int     `csv:"pipeline"`
	Rate     float64 `csv:"rate"` // target req/s, 0 = closed loop
	Payload  int     `csv:"payload_bytes"`

	Status string `csv:"status"` // ok, failed, saturated
	Reason string `csv:"reason"`

	DurationS  float64 `csv:"duration_s"`
	Requests   uint64  `csv:"requests"`
	RPS        float64 `csv:"rps"`
	P50us      int64   `csv:"p50_us"`
	P90us      int64   `csv:"p90_us"`
	P99us      int64   `csv:"p99_us"`
	P999us     int64   `csv:"p999_us"`
	MaxUs      int64   `csv:"max_us"`
	MeanUs     float64 `csv:"mean_us"`
	Errors     uint64  `csv:"errors"`
	Saturated  bool    `csv:"saturated"`
	UncorrP99  int64   `csv:"uncorrected_p99_us"`
	SendLagP99 int64   `csv:"send_lag_p99_us"`

	RSSIdleKiB      int64   `csv:"rss_idle_kib"`
	RSSPeakKiB      int64   `csv:"rss_peak_kib"`
	RSSMeanKiB      int64   `csv:"rss_mean_kib"`
	RSSPerConnBytes int64   `csv:"rss_per_conn_bytes"` // (peak-idle)*1024/conns
	ServerCPUs      float64 `csv:"server_cpu_s"`
	ReqPerServerCPU float64 `csv:"requests_per_server_cpu_s"`
	CtxSwitches     uint64  `csv:"ctx_switches"`
	ThreadsPeak     int     `csv:"threads_peak"`
	GenCPUs         float64 `csv:"generator_cpu_s"`
	ReqPerGenCPU    float64 `csv:"requests_per_generator_cpu_s"`

	GoVersion    string `csv:"go_version"`
	Kernel       string `csv:"kernel"`
	CPUModel     string `csv:"cpu_model"`
	GOMAXPROCS   int    `csv:"gomaxprocs"` // of the server
	ServerCPUSet string `csv:"server_cpus"`
	GenCPUs_     string `csv:"generator_cpus"`
	Commit       string `csv:"commit"`
	Plan         string `csv:"plan"`
	StartTime    string `csv:"start_time"` // RFC 3339, UTC
	Hlog         string `csv:"hlog"`       // path of the cell's .hlog, relative to the run dir
}
