"""jepa's lr and weight-decay schedulers as app/vjepa/train.py drives them, for the schedule tests.

WarmupCosineSchedule and CosineWDSchedule are transcribed from facebookresearch/jepa src/utils/schedulers.py
(an optimizer stub stands in for torch's); init_opt in app/vjepa/utils.py builds them with
warmup_steps = int(warmup * ipe) and T_max = int(ipe_scale * num_epochs * ipe), and train.py calls
scheduler.step() and wd_scheduler.step() at the start of every iteration, before the forward.

  jepa_schedules.py ITERATIONS IPE EPOCHS IPE_SCALE WARMUP START_LR REF_LR FINAL_LR WD FINAL_WD
prints {"lr": [...], "wd": [...]}: the values iteration 0, 1, ... runs with (JSON floats round-trip exactly).
"""
import json
import math
import sys


class _Optimizer:
    def __init__(self):
        self.param_groups = [{}, {"WD_exclude": True, "weight_decay": 0}]


class WarmupCosineSchedule(object):

    def __init__(self, optimizer, warmup_steps, start_lr, ref_lr, T_max, last_epoch=-1, final_lr=0.0):
        self.optimizer = optimizer
        self.start_lr = start_lr
        self.ref_lr = ref_lr
        self.final_lr = final_lr
        self.warmup_steps = warmup_steps
        self.T_max = T_max - warmup_steps
        self._step = 0.0

    def step(self):
        self._step += 1
        if self._step < self.warmup_steps:
            progress = float(self._step) / float(max(1, self.warmup_steps))
            new_lr = self.start_lr + progress * (self.ref_lr - self.start_lr)
        else:
            # -- progress after warmup
            progress = float(self._step - self.warmup_steps) / float(max(1, self.T_max))
            new_lr = max(self.final_lr,
                         self.final_lr + (self.ref_lr - self.final_lr) * 0.5 * (1. + math.cos(math.pi * progress)))

        for group in self.optimizer.param_groups:
            group['lr'] = new_lr

        return new_lr


class CosineWDSchedule(object):

    def __init__(self, optimizer, ref_wd, T_max, final_wd=0.):
        self.optimizer = optimizer
        self.ref_wd = ref_wd
        self.final_wd = final_wd
        self.T_max = T_max
        self._step = 0.

    def step(self):
        self._step += 1
        progress = self._step / self.T_max
        new_wd = self.final_wd + (self.ref_wd - self.final_wd) * 0.5 * (1. + math.cos(math.pi * progress))

        if self.final_wd <= self.ref_wd:
            new_wd = max(self.final_wd, new_wd)
        else:
            new_wd = min(self.final_wd, new_wd)

        for group in self.optimizer.param_groups:
            if ('WD_exclude' not in group) or not group['WD_exclude']:
                group['weight_decay'] = new_wd
        return new_wd


def main(iterations, ipe, num_epochs, ipe_scale, warmup, start_lr, ref_lr, final_lr, wd, final_wd):
    optimizer = _Optimizer()
    scheduler = WarmupCosineSchedule(optimizer, warmup_steps=int(warmup * ipe), start_lr=start_lr, ref_lr=ref_lr,
                                     final_lr=final_lr, T_max=int(ipe_scale * num_epochs * ipe))
    wd_scheduler = CosineWDSchedule(optimizer, ref_wd=wd, final_wd=final_wd, T_max=int(ipe_scale * num_epochs * ipe))
    lrs, wds = [], []
    for _ in range(iterations):
        # train.py: _new_lr = scheduler.step(); _new_wd = wd_scheduler.step(); then the forward of this iteration.
        lrs.append(scheduler.step())
        wds.append(wd_scheduler.step())
    print(json.dumps({"lr": lrs, "wd": wds}))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]), int(a[1]), int(a[2]), float(a[3]), float(a[4]), *map(float, a[5:10]))
