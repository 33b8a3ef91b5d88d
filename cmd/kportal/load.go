package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// loadResult is what a load run measured.
type loadResult struct {
	Requests int
	Errors   int
	P50, P99 time.Duration
	RPS      float64
	// FirstError says what the first failed request got, for the message.
	FirstError string
}

// load sends GET requests to url from concurrency workers for d (and at most
// maxRequests in all), and measures latency and throughput. prepare may add
// headers (a session cookie). It stops by itself.
func load(ctx context.Context, url string, concurrency int, d time.Duration, maxRequests int, prepare func(*http.Request)) loadResult {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
		first     string
		sent      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				if sent >= maxRequests {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if prepare != nil {
					prepare(req)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode < 400
				what := ""
				if err != nil {
					what = err.Error()
				} else {
					if !ok {
						b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
						what = fmt.Sprintf("%s %d: %s", req.URL.Path, resp.StatusCode, b)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				el := time.Since(t0)
				mu.Lock()
				if ok {
					latencies = append(latencies, el)
				} else if ctx.Err() == nil {
					if errors == 0 {
						first = what
					}
					errors++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	r := loadResult{Requests: len(latencies), Errors: errors, FirstError: first, RPS: float64(len(latencies)) / elapsed.Seconds()}
	if n := len(latencies); n > 0 {
		r.P50 = latencies[n*50/100]
		r.P99 = latencies[min(n-1, n*99/100)]
	}
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
