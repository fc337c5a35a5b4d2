package report

// mdOf renders blocks as report.md renders them.
func mdOf(bs []block) string {
	d := doc{blocks: bs}
	return string(d.markdown())
}
