"""Run by torchrun in test_distributed.py: a tiny Trainer run on 2 CPU processes (gloo) with DataMapCallback."""
import sys

import torch.distributed as dist
from datamap_fixtures import frozen_model, make_trainer, tiny_dataset
from synthetic import synthetic_sentiment

from greennlp.datamaps import DataMapCallback
from greennlp.encoders import train_wordpiece_tokenizer

output = sys.argv[1]
tokenizer = train_wordpiece_tokenizer(synthetic_sentiment(500)["text"], vocab_size=200)
dataset = tiny_dataset(tokenizer, n=45)  # 45 is odd: DistributedSampler pads with a duplicate example
trainer = make_trainer(frozen_model(tokenizer), tokenizer, dataset, f"{output}/run", [DataMapCallback(f"{output}/map", id_column="guid")],
                       learning_rate=1e-3, num_train_epochs=2, ddp_backend="gloo", keep_ids=True)
trainer.train()
# Neither the Trainer nor accelerate destroys the process group, so without this it is torn down during
# interpreter shutdown, racing gloo's C++ threads (the suspected cause of a rare SIGABRT, exit code -6, of one
# rank). Wait until both ranks are done with the group, then destroy it while the interpreter is fully alive.
dist.barrier()
dist.destroy_process_group()
