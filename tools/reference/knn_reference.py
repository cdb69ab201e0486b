"""Transcription of SVT's weighted k-NN evaluation, for parity fixtures.

Run by /usr/bin/python3 (torch 1.13). Source, transcribed as it is: kahnchana/svt eval_knn.py (`knn_classifier`,
itself facebookresearch/dino eval_knn.py), and the L2 normalisation `extract_feature_pipeline` applies to both feature
sets before it. Only change: the function also returns the class votes (`probs`), and `.cuda()` is dropped.

  knn_reference.py fixtures OUT.pth   features, labels and, per k in (10, 20, 100, 200), votes / top-1 / top-5
"""
import sys

import torch
from torch import nn


@torch.no_grad()
def knn_classifier(train_features, train_labels, test_features, test_labels, k, T, num_classes=1000):
    top1, top5, total = 0.0, 0.0, 0
    train_features = train_features.t()
    num_test_images, num_chunks = test_labels.shape[0], 100
    imgs_per_chunk = num_test_images // num_chunks
    retrieval_one_hot = torch.zeros(k, num_classes)
    all_probs = []
    for idx in range(0, num_test_images, imgs_per_chunk):
        # get the features for test images
        features = test_features[idx : min((idx + imgs_per_chunk), num_test_images), :]
        targets = test_labels[idx : min((idx + imgs_per_chunk), num_test_images)]
        batch_size = targets.shape[0]

        # calculate the dot product and compute top-k neighbors
        similarity = torch.mm(features, train_features)
        distances, indices = similarity.topk(k, largest=True, sorted=True)
        candidates = train_labels.view(1, -1).expand(batch_size, -1)
        retrieved_neighbors = torch.gather(candidates, 1, indices)

        retrieval_one_hot.resize_(batch_size * k, num_classes).zero_()
        retrieval_one_hot.scatter_(1, retrieved_neighbors.view(-1, 1), 1)
        distances_transform = distances.clone().div_(T).exp_()
        probs = torch.sum(
            torch.mul(
                retrieval_one_hot.view(batch_size, -1, num_classes),
                distances_transform.view(batch_size, -1, 1),
            ),
            1,
        )
        all_probs.append(probs.clone())
        _, predictions = probs.sort(1, True)

        # find the predictions that match the target
        correct = predictions.eq(targets.data.view(-1, 1))
        top1 = top1 + correct.narrow(1, 0, 1).sum().item()
        top5 = top5 + correct.narrow(1, 0, 5).sum().item()
        total += targets.size(0)
    top1 = top1 * 100.0 / total
    top5 = top5 * 100.0 / total
    return top1, top5, torch.cat(all_probs)


def fixtures(out):
    g = torch.Generator().manual_seed(0)
    classes, dim = 7, 24
    centres = torch.randn(classes, dim, generator=g) * 0.8
    train_labels = torch.randint(0, classes, (300,), generator=g)
    test_labels = torch.randint(0, classes, (200,), generator=g)
    train_raw = centres[train_labels] + torch.randn(300, dim, generator=g) * 3.0
    test_raw = centres[test_labels] + torch.randn(200, dim, generator=g) * 3.0
    # extract_feature_pipeline: nn.functional.normalize(features, dim=1, p=2) on both sets.
    train_features = nn.functional.normalize(train_raw, dim=1, p=2)
    test_features = nn.functional.normalize(test_raw, dim=1, p=2)
    result = {"train_raw": train_raw, "test_raw": test_raw, "train_labels": train_labels, "test_labels": test_labels}
    for k in (10, 20, 100, 200):
        top1, top5, probs = knn_classifier(train_features, train_labels, test_features, test_labels, k, 0.07, classes)
        result[f"votes_{k}"] = probs
        result[f"top1_{k}"] = torch.tensor([top1], dtype=torch.float64)
    torch.save(result, out)


if __name__ == "__main__":
    if sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")
