package scheduler

import (
	"reflect"
	"testing"
)

func TestTaskCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                         string
		workers, mcu, tasksMax, maxAutoscaling, want int
		autoscaled                                   bool
	}{
		{name: "provisioned: tasks.max", workers: 2, mcu: 4, tasksMax: 5, want: 5},
		{name: "provisioned: unset tasks.max is 1", workers: 2, mcu: 4, want: 1},
		{name: "provisioned ignores the autoscaling cap", workers: 2, mcu: 4, tasksMax: 5, maxAutoscaling: 2, want: 5},
		{name: "autoscaled: workers × mcu × 2", workers: 3, mcu: 2, autoscaled: true, want: 12},
		{name: "autoscaled: capped by maxAutoscalingTaskCount", workers: 3, mcu: 2, maxAutoscaling: 10, autoscaled: true, want: 10},
		{name: "autoscaled: capped by tasks.max", workers: 3, mcu: 2, tasksMax: 4, maxAutoscaling: 10, autoscaled: true, want: 4},
		{name: "autoscaled: the lower cap wins", workers: 3, mcu: 2, tasksMax: 11, maxAutoscaling: 7, autoscaled: true, want: 7},
		{name: "autoscaled: caps above the product do nothing", workers: 1, mcu: 1, tasksMax: 50, maxAutoscaling: 50, autoscaled: true, want: 2},
		{name: "autoscaled: at least 1", workers: 0, mcu: 1, autoscaled: true, want: 1},
	}
	for _, tt := range tests {
		if got := TaskCount(tt.workers, tt.mcu, tt.tasksMax, tt.maxAutoscaling, tt.autoscaled); got != tt.want {
			t.Errorf("%s: TaskCount(%d, %d, %d, %d, %v) = %d, want %d", tt.name,
				tt.workers, tt.mcu, tt.tasksMax, tt.maxAutoscaling, tt.autoscaled, got, tt.want)
		}
	}
}

func TestAssignTasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		total int
		held  [][]int
		want  [][]int
	}{
		{name: "no workers", total: 3, held: nil, want: [][]int{}},
		{name: "no tasks", total: 0, held: [][]int{{0}, nil}, want: [][]int{nil, nil}},
		{name: "fresh: contiguous split, larger shares first", total: 7, held: [][]int{nil, nil, nil},
			want: [][]int{{0, 1, 2}, {3, 4}, {5, 6}}},
		{name: "fewer tasks than workers", total: 2, held: [][]int{nil, nil, nil},
			want: [][]int{{0}, {1}, nil}},
		{name: "balanced stays as it is", total: 5, held: [][]int{{1, 3}, {0, 2, 4}},
			want: [][]int{{1, 3}, {0, 2, 4}}},
		{name: "a new worker takes the surplus, highest ids", total: 4, held: [][]int{{0, 1, 2, 3}, nil},
			want: [][]int{{0, 1}, {2, 3}}},
		{name: "a lost worker's tasks fill the others", total: 6, held: [][]int{{0, 1}, {4, 5}},
			want: [][]int{{0, 1, 2}, {3, 4, 5}}},
		{name: "the larger share goes to the bigger holder", total: 5, held: [][]int{{0, 1}, {2, 3, 4}, nil},
			want: [][]int{{0, 1}, {2, 3}, {4}}},
		{name: "more tasks: everyone keeps theirs", total: 6, held: [][]int{{0, 1}, {2, 3}},
			want: [][]int{{0, 1, 4}, {2, 3, 5}}},
		{name: "fewer tasks: out-of-range ids drop", total: 2, held: [][]int{{0, 1}, {2, 3}},
			want: [][]int{{0}, {1}}},
		{name: "a task held twice stays with the first holder", total: 2, held: [][]int{{0, 1}, {1}},
			want: [][]int{{0}, {1}}},
		{name: "negative and unsorted ids", total: 3, held: [][]int{{2, -1, 0}, nil},
			want: [][]int{{0, 2}, {1}}},
	}
	for _, tt := range tests {
		if got := assignTasks(tt.total, tt.held); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: assignTasks(%d, %v) = %v, want %v", tt.name, tt.total, tt.held, got, tt.want)
		}
	}
}

func TestFormatTasks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ts   []int
		want string
	}{
		{nil, "[]"},
		{[]int{4}, "[4]"},
		{[]int{0, 1, 2, 3}, "[0-3]"},
		{[]int{0, 1, 3, 5, 6}, "[0-1 3 5-6]"},
	} {
		if got := formatTasks(tt.ts); got != tt.want {
			t.Errorf("formatTasks(%v) = %q, want %q", tt.ts, got, tt.want)
		}
	}
}
