"""Tasks: one module per kind of learning problem, each declaring how its data is prepared, which
evaluations it runs and their metric names. A method names its task in its ``task`` attribute.

=========  =======================================================================  ===============================
task       methods                                                                  evaluations
=========  =======================================================================  ===============================
node       homogeneous node embeddings (GRACE, GCA)                                 node, cluster, oracle
cluster    deep clustering with own clusters (SCGC, SCGC*, PamC)                    node, cluster, stopped, oracle
hetero     heterogeneous graphs, HeCo / MEOW protocol (MEOW, AdaMEOW, HeCo-style)   node, cluster
graph      sets of small graphs, TU protocol (GraphCL)                              graph
rec        user-item graphs, full ranking (LightGCN, LightGCL)                      rank
=========  =======================================================================  ===============================
"""
from graphcl.tasks.base import Evaluation, Monitor, Task, dataset_name, get_task, register_task, task_names
from graphcl.tasks.cluster import STOP_TOL, ClusterTask
from graphcl.tasks.graph import GraphTask
from graphcl.tasks.hetero import (HETERO_SPLITS, HeteroTask, ValidationEpochSelector, add_walk_features, evaluate_hetero,
                                  normalize_node_types)
from graphcl.tasks.node import NodeTask, kmeans_partition, number_of_classes
from graphcl.tasks.rec import RankingValidator, RecTask

__all__ = ["Task", "Evaluation", "Monitor", "register_task", "get_task", "task_names", "dataset_name",
           "NodeTask", "ClusterTask", "HeteroTask", "GraphTask", "RecTask",
           "number_of_classes", "kmeans_partition", "STOP_TOL", "HETERO_SPLITS", "evaluate_hetero",
           "normalize_node_types", "add_walk_features", "ValidationEpochSelector", "RankingValidator"]
