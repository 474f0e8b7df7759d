package scheduler

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// TaskCount is the number of tasks a workload runs, as MSK Connect computes it.
//
// Provisioned capacity (autoscaled false): tasks.max, or 1 when tasksMax is unset (≤ 0, as
// Kafka Connect's default). Autoscaled: workers × mcu × 2, capped by maxAutoscalingTaskCount
// and by tasksMax where each is set (> 0), and at least 1. workers is the desired worker count
// and mcu the MCU per worker.
func TaskCount(workers, mcu, tasksMax, maxAutoscalingTaskCount int, autoscaled bool) int {
	if !autoscaled {
		return max(tasksMax, 1)
	}
	n := workers * mcu * 2
	if maxAutoscalingTaskCount > 0 {
		n = min(n, maxAutoscalingTaskCount)
	}
	if tasksMax > 0 {
		n = min(n, tasksMax)
	}
	return max(n, 1)
}

// assignTasks spreads tasks 0 … total-1 over len(held) workers, where held[i] are the tasks
// worker i runs now, and returns each worker's new tasks, ascending (nil when none).
//
// The result is balanced — every worker gets ⌊total/n⌋ or ⌈total/n⌉ tasks — and sticky: a
// worker keeps as many of its current tasks as balance allows, so that an unchanged workload
// keeps every task where it is, and a change of worker or task count moves the fewest tasks.
// Each moved task restarts elsewhere and fences its old producer, so fewer moves mean fewer
// restarts.
//
//   - A held task outside 0 … total-1, or already held by an earlier worker, is dropped.
//   - The total%n larger shares go to the workers holding the most tasks (ties: lower index),
//     which maximizes the tasks that stay.
//   - A worker holding more than its share keeps its lowest task ids.
//   - The remaining tasks, ascending, fill the workers with room in index order.
//
// With nothing held this is a contiguous split: worker 0 gets the first tasks, and so on.
func assignTasks(total int, held [][]int) [][]int {
	n := len(held)
	out := make([][]int, n)
	if n == 0 || total <= 0 {
		return out
	}
	taken := make([]bool, total)
	valid := make([][]int, n)
	for i, ts := range held {
		for _, t := range ts {
			if t >= 0 && t < total && !taken[t] {
				taken[t] = true
				valid[i] = append(valid[i], t)
			}
		}
		slices.Sort(valid[i])
	}

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(valid[b]), len(valid[a])) })
	quota := make([]int, n)
	for k, i := range order {
		quota[i] = total / n
		if k < total%n {
			quota[i]++
		}
	}

	kept := make([]bool, total)
	for i, ts := range valid {
		ts = ts[:min(len(ts), quota[i])]
		for _, t := range ts {
			kept[t] = true
		}
		if len(ts) > 0 {
			out[i] = slices.Clone(ts)
		}
	}
	i := 0
	for t := range total {
		if kept[t] {
			continue
		}
		for len(out[i]) >= quota[i] {
			i++
		}
		out[i] = append(out[i], t)
	}
	for _, ts := range out {
		slices.Sort(ts)
	}
	return out
}

// normalizeTasks returns a sorted copy of ts without duplicates; nil when ts is empty.
func normalizeTasks(ts []int) []int {
	if len(ts) == 0 {
		return nil
	}
	ts = slices.Clone(ts)
	slices.Sort(ts)
	return slices.Compact(ts)
}

// formatTasks renders ascending task ids compactly for reasons: "[0-3 5 7-8]", "[]".
func formatTasks(ts []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(ts); {
		j := i
		for j+1 < len(ts) && ts[j+1] == ts[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(ts[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ts[j]))
		}
		i = j + 1
	}
	b.WriteByte(']')
	return b.String()
}
